// The operator's NVIDIA verifier contacts a RIM service or OCSP responder only under --allowed-rim-urls /
// --allowed-ocsp-urls (defaults: NVIDIA's public endpoints). Off the list: a coded refusal and no request,
// whatever path asks (the policy controller refuses such a policy first; this is the second check).
// The captured H100 evidence at its pinned time; local servers stand in for NVIDIA's (network boundary).
import { afterEach, describe, expect, it } from 'vitest';
import type { AttestationPolicySpec } from '../api/attestation-policy.ts';
import { H100_2023, kbsEntry, reportDataFor } from '../../test/fixtures/nvidia/support/fixtures.ts';
import { startOcspResponder, startRimService, type LocalServer } from '../../test/fixtures/nvidia/support/servers.ts';
import { DEFAULT_ALLOWED_PCCS_URLS, DEFAULT_ALLOWED_REKOR_URLS } from './config.ts';
import { hardwareVerifiersWith, type EgressLists } from './verifiers.ts';

const evidence = { device_evidence_list: [kbsEntry(H100_2023.report, H100_2023.chainPem, 'GPU-h100')] };
const RIMS = new Map([
  [H100_2023.driverRimId, H100_2023.driverRim],
  [H100_2023.vbiosRimId, H100_2023.vbiosRim],
]);
const policy = (gpu: Partial<NonNullable<AttestationPolicySpec['gpu']>>): AttestationPolicySpec => ({
  allowSampleTee: false,
  minimumStatus: 'affirming',
  reattestIntervalSeconds: 3600,
  gpu: { required: true, ocsp: 'Skip', rimServiceUrl: 'https://rim.attestation.nvidia.com/v1/rim/', ocspUrl: 'https://ocsp.ndis.nvidia.com/', ...gpu },
});

let servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

function nvidia(egress: Partial<EgressLists> = {}) {
  const hw = hardwareVerifiersWith({
    configMap: (name) => (name === 'rims' ? Object.fromEntries(RIMS) : undefined),
    egress: { allowedRekorUrls: DEFAULT_ALLOWED_REKOR_URLS, allowedPccsUrls: DEFAULT_ALLOWED_PCCS_URLS, ...egress },
  });
  const v = hw.verifiers.find((x) => x.tee === 'nvidia')!;
  return (p: AttestationPolicySpec) => v.verify({ evidence, expectedReportData: reportDataFor(H100_2023.nonceHex), at: H100_2023.pinnedTime, policy: p });
}

describe('NVIDIA RIM / OCSP egress allow-list', () => {
  it('a RIM service off --allowed-rim-urls (default: NVIDIA only) is refused with RimUrlNotAllowed and never asked', async () => {
    const rim = await startRimService(RIMS);
    servers.push(rim);
    const r = await nvidia()(policy({ rimServiceUrl: `${rim.url}?token=s3cret` }));
    expect(!r.ok && r.failure.code).toBe('RimUrlNotAllowed');
    expect(!r.ok && r.failure.message).toContain('spec.gpu.rimServiceUrl');
    expect(!r.ok && r.failure.message).toContain('--allowed-rim-urls');
    expect(!r.ok && r.failure.message).not.toContain('s3cret');
    expect(rim.requests).toBe(0);
  });

  it('the same RIM service under the flag is used (the control: the refusal above was the allow-list)', async () => {
    const rim = await startRimService(RIMS);
    servers.push(rim);
    const r = await nvidia({ allowedRimUrls: [rim.url] })(policy({ rimServiceUrl: rim.url }));
    expect(r.ok).toBe(true);
    expect(rim.requests).toBe(2); // driver + VBIOS RIM
  });

  it('an OCSP responder off --allowed-ocsp-urls is refused with OcspUrlNotAllowed (even under Prefer) and never asked', async () => {
    const ocsp = await startOcspResponder(() => 500);
    servers.push(ocsp);
    for (const mode of ['Prefer', 'Require'] as const) {
      const r = await nvidia()(policy({ rimConfigMapRef: { name: 'rims' }, ocsp: mode, ocspUrl: ocsp.url }));
      expect(!r.ok && r.failure.code).toBe('OcspUrlNotAllowed');
      expect(!r.ok && r.failure.message).toContain('--allowed-ocsp-urls');
    }
    expect(ocsp.requests).toBe(0);
    // allowed: the responder is asked (here it fails with HTTP 500, which Prefer only warns about)
    const allowed = await nvidia({ allowedOcspUrls: [ocsp.url] })(policy({ rimConfigMapRef: { name: 'rims' }, ocsp: 'Prefer', ocspUrl: ocsp.url }));
    expect(allowed.ok).toBe(true);
    expect(ocsp.requests).toBeGreaterThan(0);
  });
});
