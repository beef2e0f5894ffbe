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
});
