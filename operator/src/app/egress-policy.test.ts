import { describe, expect, it } from 'vitest';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import { AttestationPolicySpecSchema } from '../api/attestation-policy.ts';
import { parseOperatorConfig } from './config.ts';
import { egressPolicy } from './egress-policy.ts';

const policy = (tdx: Record<string, unknown>): AttestationPolicy =>
  ({ apiVersion: 'x/v1', kind: 'AttestationPolicy', metadata: { name: 'p', namespace: 'n' }, spec: AttestationPolicySpecSchema.parse({ tdx }) }) as AttestationPolicy;
const rekor = (url: string) => ({ referenceValues: { rekor: { url, publicKey: 'k', artifactId: 'a', allowedVersions: ['1'] } } });

describe('egressPolicy', () => {
  const defaults = egressPolicy(parseOperatorConfig([], {}));

  it('passes the schema defaults (public-good Rekor, Intel PCS)', () => {
    expect(defaults.policyProblem(policy(rekor('https://rekor.sigstore.dev')))).toBeUndefined();
    expect(defaults.policyProblem(policy({ pccsUrl: 'https://api.trustedservices.intel.com/sgx/certification/v4' }))).toBeUndefined();
  });

  it('names the log field first, then the PCCS field', () => {
    const both = policy({ ...rekor('http://10.0.0.5:3000/'), pccsUrl: 'http://169.254.169.254/latest' });
    expect(defaults.policyProblem(both)).toMatchObject({ code: 'LogUrlNotAllowed' });
    expect(defaults.policyProblem(both)?.message).toMatch(/^spec\.tdx\.referenceValues\.rekor\.url 'http:\/\/10\.0\.0\.5:3000\/' is not under an allowed prefix \(https:\/\/rekor\.sigstore\.dev\/;/);
    const pccs = defaults.policyProblem(policy({ pccsUrl: 'http://169.254.169.254/latest?token=s3cret' }));
    expect(pccs).toMatchObject({ code: 'PccsUrlNotAllowed' });
    expect(pccs?.message).toContain('--allowed-pccs-urls');
    expect(pccs?.message).not.toContain('s3cret'); // the query is never repeated
  });

  it('follows the flags', () => {
    const e = egressPolicy(parseOperatorConfig(['--allowed-pccs-urls', 'https://pccs.cn-beijing.example/'], {}));
    expect(e.pccsUrl('https://pccs.cn-beijing.example/tdx/certification/v4')).toBeUndefined();
    expect(e.pccsUrl('https://api.trustedservices.intel.com/tdx/certification/v4')).toMatchObject({ code: 'PccsUrlNotAllowed' });
  });

  describe('NVIDIA RIM service and OCSP responder', () => {
    const gpuPolicy = (gpu: Record<string, unknown>): AttestationPolicy =>
      ({ apiVersion: 'x/v1', kind: 'AttestationPolicy', metadata: { name: 'p', namespace: 'n' }, spec: AttestationPolicySpecSchema.parse({ gpu: { required: true, ...gpu } }) }) as AttestationPolicy;

    it('passes the schema defaults (NVIDIA public RIM service and OCSP responder)', () => {
      expect(defaults.policyProblem(gpuPolicy({}))).toBeUndefined();
      expect(defaults.policyProblem(gpuPolicy({ ocsp: 'Require' }))).toBeUndefined();
    });

    it('refuses an off-list RIM service, then an off-list OCSP responder, naming the field and the flag', () => {
      const rim = defaults.policyProblem(gpuPolicy({ rimServiceUrl: 'http://10.0.0.9/v1/rim/?k=s3cret', ocspUrl: 'http://169.254.169.254/' }));
      expect(rim).toMatchObject({ code: 'RimUrlNotAllowed' });
      expect(rim?.message).toMatch(/^spec\.gpu\.rimServiceUrl 'http:\/\/10\.0\.0\.9\/v1\/rim\/' is not under an allowed prefix \(https:\/\/rim\.attestation\.nvidia\.com\/;/);
      expect(rim?.message).toContain('--allowed-rim-urls');
      expect(rim?.message).not.toContain('s3cret');
      const ocsp = defaults.policyProblem(gpuPolicy({ ocspUrl: 'http://169.254.169.254/' }));
      expect(ocsp).toMatchObject({ code: 'OcspUrlNotAllowed' });
      expect(ocsp?.message).toContain('spec.gpu.ocspUrl');
      expect(ocsp?.message).toContain('--allowed-ocsp-urls');
    });

    it('does not check what is never contacted: RIMs from a ConfigMap, OCSP Skip', () => {
      expect(defaults.policyProblem(gpuPolicy({ rimServiceUrl: 'http://10.0.0.9/', rimConfigMapRef: { name: 'rims' } }))).toBeUndefined();
      expect(defaults.policyProblem(gpuPolicy({ ocspUrl: 'http://169.254.169.254/', ocsp: 'Skip' }))).toBeUndefined();
    });

    it('follows the flags; an explicitly empty list allows nothing', () => {
      const e = egressPolicy(parseOperatorConfig(['--allowed-rim-urls', 'https://rim.mirror.example/', '--allowed-ocsp-urls', ''], {}));
      expect(e.rimUrl('https://rim.mirror.example/v1/rim/')).toBeUndefined();
      expect(e.rimUrl('https://rim.attestation.nvidia.com/v1/rim/')).toMatchObject({ code: 'RimUrlNotAllowed' });
      expect(e.ocspUrl('https://ocsp.ndis.nvidia.com/')).toMatchObject({ code: 'OcspUrlNotAllowed' });
      expect(() => parseOperatorConfig(['--allowed-rim-urls', 'ftp://x/'], {})).toThrow(/--allowed-rim-urls/);
    });
  });
});
