import { describe, expect, it } from 'vitest';
import type { AttestationPolicySpec } from '../../api/attestation-policy.ts';
import { H100_2023, H100_550, kbsEntry, reportDataFor } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { makeTestPki, makeDeviceLeaf } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { appraiseGpu, type GpuAppraisalOptions } from './appraise.ts';
import { VerificationCache } from './cache.ts';
import { parseGpuEvidence } from './evidence.ts';
import { MapRimSource } from './rim-source.ts';
import { loadTrustAnchors } from './roots.ts';
import { createNvidiaVerifier } from './verifier.ts';

const policy = (gpu: Partial<NonNullable<AttestationPolicySpec['gpu']>> = {}): AttestationPolicySpec => ({
  allowSampleTee: false,
  minimumStatus: 'affirming',
  reattestIntervalSeconds: 3600,
  gpu: { required: true, ocsp: 'Skip', rimServiceUrl: 'https://rim.invalid/v1/rim/', ocspUrl: 'https://ocsp.invalid/', ...gpu },
});
const rims = (vbios = H100_2023.vbiosRim) =>
  new MapRimSource(
    new Map([
      [H100_2023.driverRimId, H100_2023.driverRim],
      [H100_2023.vbiosRimId, vbios],
    ]),
  );
const evidence2023 = { device_evidence_list: [kbsEntry(H100_2023.report, H100_2023.chainPem, 'GPU-h100')] };
const options = (o: Partial<GpuAppraisalOptions> = {}): GpuAppraisalOptions => ({
  anchors: loadTrustAnchors(),
  rims: rims(),
  ocspPolicy: 'Skip',
  expectedNonce: Buffer.from(H100_2023.nonceHex, 'hex'),
  at: H100_2023.pinnedTime,
  ...o,
});
const item2023 = () => parseGpuEvidence(evidence2023).items[0]!;

describe('nvidia Verifier on the captured H100 set', () => {
  it('verifies signature, chain and all driver + VBIOS golden values at the pinned time', async () => {
    const v = createNvidiaVerifier({ rims: rims() });
    const r = await v.verify({ evidence: evidence2023, expectedReportData: reportDataFor(H100_2023.nonceHex), at: H100_2023.pinnedTime, policy: policy() });
    expect(r).toEqual({
      ok: true,
      verified: {
        tee: 'nvidia',
        teeClass: 'gpu',
        claims: {
          gpu_count: 1,
          gpus: [
            {
              uuid: 'GPU-h100',
              arch: 'HOPPER',
              driver_version: '545.00',
              vbios_version: '96.00.5E.00.01',
              measurements: 'match',
              driver_rim_id: H100_2023.driverRimId,
              vbios_rim_id: H100_2023.vbiosRimId,
              rim_expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown as string,
            },
          ],
          driver_versions: ['545.00'],
          vbios_versions: ['96.00.5E.00.01'],
          ocsp: 'skipped',
        },
        warnings: [],
      },
    });
    const detail = await appraiseGpu(item2023(), options());
    // 33 active golden values; index 35 is not compared because NVDEC0 reports disabled (0x55), as NVAT does.
    expect(detail).toMatchObject({ ok: true, matchedMeasurements: 32, skippedMeasurements: [35], driverRimId: H100_2023.driverRimId, vbiosRimId: H100_2023.vbiosRimId });
  });

  it('fails against the PROD VBIOS RIM naming the mismatching indices 1, 2, 3, 9', async () => {
    const r = await appraiseGpu(item2023(), options({ rims: rims(H100_2023.negativeVbiosRim) }));
    expect(r).toMatchObject({ ok: false, code: 'RimMismatch', detail: { indices: [1, 2, 3, 9] } });
    if (!r.ok) expect(r.message).toMatch(/vbios 1 \(value\), vbios 2 \(value\), vbios 3 \(value\), vbios 9 \(value\)/);
  });

  it('fails with an expiry reason after the RIM signing certificates expire (also with a warm cache)', async () => {
    const v = createNvidiaVerifier({ rims: rims() });
    const warm = await v.verify({ evidence: evidence2023, expectedReportData: reportDataFor(H100_2023.nonceHex), at: H100_2023.pinnedTime, policy: policy() });
    expect(warm.ok).toBe(true);
    const r = await v.verify({ evidence: evidence2023, expectedReportData: reportDataFor(H100_2023.nonceHex), at: H100_2023.afterRimExpiry, policy: policy() });
    expect(r).toMatchObject({ ok: false, failure: { code: 'RimCertExpired', message: expect.stringMatching(/HCC RIM L4 Signer.*2025-06-26/) } });
  });

  it('evidence-only 550.90.07 report: signature and chain verify, then "no RIM" cleanly', async () => {
    const item = parseGpuEvidence({ device_evidence_list: [kbsEntry(H100_550.report, H100_550.chainPem)] }).items[0]!;
    const r = await appraiseGpu(item, options({ expectedNonce: Buffer.from(H100_550.nonceHex, 'hex'), at: new Date('2025-09-01T00:00:00Z') }));
    expect(r).toMatchObject({ ok: false, code: 'RimMissing', driverRimId: 'NV_GPU_DRIVER_GH100_550.90.07', vbiosRimId: 'NV_GPU_VBIOS_1010_0200_882_96009F0001' });
  });

  it('rejects any single-bit change in the signed report', async () => {
    const codes = new Map<string, number>();
    const o = options({ cache: new VerificationCache() });
    for (let i = 0; i < H100_2023.report.length; i++) {
      const report = new Uint8Array(H100_2023.report);
      report[i] = (report[i] ?? 0) ^ (1 << (i % 8));
      const r = await appraiseGpu({ ...item2023(), report }, o);
      expect(r.ok, `byte ${i}`).toBe(false);
      if (!r.ok) codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
    }
    expect([...codes.keys()].every((c) => ['ReportSignatureInvalid', 'SpdmMalformed', 'SpdmUnsupported', 'OpaqueMalformed'].includes(c))).toBe(true);
    expect(codes.get('ReportSignatureInvalid')).toBeGreaterThan(3500);
  });

  it('gives distinct reasons: wrong nonce, chain to another root, broken RIM signature', async () => {
    const wrongNonce = await appraiseGpu(item2023(), options({ expectedNonce: new Uint8Array(32).fill(7) }));
    expect(wrongNonce).toMatchObject({ ok: false, code: 'NonceMismatch' });

    const pki = makeTestPki();
    const foreign = [makeDeviceLeaf(pki), pki.deviceProvisioner, pki.deviceIdentity, pki.deviceRoot].map((c) => c.pem).join('');
    expect(await appraiseGpu({ ...item2023(), certChainPem: foreign }, options())).toMatchObject({ ok: false, code: 'DeviceChainUntrusted' });

    const broken = H100_2023.vbiosRim.replace('<ds:DigestValue>', '<ds:DigestValue>A').replace(/<ds:DigestValue>A./, '<ds:DigestValue>A');
    expect(await appraiseGpu(item2023(), options({ rims: rims(broken) }))).toMatchObject({ ok: false, code: 'RimSignatureInvalid' });
  });

  it('checks SDK-claimed versions and the policy allow-lists', async () => {
    const sdk = parseGpuEvidence([{ ...kbsEntry(H100_2023.report, H100_2023.chainPem), nonce: H100_2023.nonceHex, driver_version: '550.00', vbios_version: '96.00.5E.00.01', version: '1' }]);
    expect(await appraiseGpu(sdk.items[0]!, options({ expectedNonce: undefined }))).toMatchObject({ ok: false, code: 'ReportVersionMismatch' });
    expect(await appraiseGpu(item2023(), options({ allowedDriverVersions: ['550.90.07'] }))).toMatchObject({ ok: false, code: 'DriverVersionNotAllowed' });
    expect(await appraiseGpu(item2023(), options({ allowedVbiosVersions: ['96.00.5e.00.01'] }))).toMatchObject({ ok: true });
    expect(await appraiseGpu(item2023(), options({ allowedVbiosVersions: ['96.00.9F.00.01'] }))).toMatchObject({ ok: false, code: 'VbiosVersionNotAllowed' });
  });

  it('turns every truncation of the report and of the certificate chain into a typed failure', async () => {
    const o = options({ cache: new VerificationCache() });
    for (let len = 0; len < H100_2023.report.length; len++) {
      const r = await appraiseGpu({ ...item2023(), report: H100_2023.report.subarray(0, len) }, o);
      expect(r).toMatchObject({ ok: false, code: 'SpdmMalformed' });
    }
    const allowed = ['CertificateMalformed', 'DeviceChainInvalid', 'DeviceChainUntrusted'];
    for (let len = 0; len < H100_2023.chainPem.length; len += 7) {
      const pem = H100_2023.chainPem.slice(0, len);
      const r = await appraiseGpu({ ...item2023(), certChainPem: pem }, o);
      // Cutting exactly after the fourth certificate only drops the (optional) pinned root.
      if (r.ok) expect(pem.match(/-----END CERTIFICATE-----/g)).toHaveLength(4);
      else expect(allowed, `length ${len}`).toContain(r.code);
    }
  });

  it('returns a typed failure for malformed evidence and short report data', async () => {
    const v = createNvidiaVerifier({ rims: rims() });
    const base = { expectedReportData: reportDataFor(H100_2023.nonceHex), at: H100_2023.pinnedTime, policy: policy() };
    expect(await v.verify({ ...base, evidence: { nope: 1 } })).toMatchObject({ ok: false, failure: { code: 'EvidenceMalformed' } });
    expect(await v.verify({ ...base, evidence: evidence2023, expectedReportData: new Uint8Array(16) })).toMatchObject({ ok: false, failure: { code: 'NonceMismatch' } });
    for (const len of [0, 1, 36, 37, 100, 4000]) {
      const e = { device_evidence_list: [kbsEntry(H100_2023.report.subarray(0, len), H100_2023.chainPem)] };
      const r = await v.verify({ ...base, evidence: e });
      expect(r.ok).toBe(false);
    }
  });
});

describe('nvidia Verifier: claims, OCSP outcome and failure messages', () => {
  const base = { expectedReportData: reportDataFor(H100_2023.nonceHex), at: H100_2023.pinnedTime };
  const two = { device_evidence_list: [kbsEntry(H100_2023.report, H100_2023.chainPem, 'GPU-a'), kbsEntry(H100_2023.report, H100_2023.chainPem, 'GPU-b')] };

  it('reports the earlier RIM chain expiry and, without an OCSP client under Prefer, ocsp=unavailable with a warning per GPU', async () => {
    const v = createNvidiaVerifier({ rims: rims() });
    const noMode = { ...policy(), gpu: { required: true } } as AttestationPolicySpec;
    const r = await v.verify({ ...base, evidence: evidence2023, policy: noMode });
    expect(r).toMatchObject({
      ok: true,
      verified: {
        // The VBIOS RIM's signer expires 2025-06-22, before the driver RIM's (2025-06-26).
        claims: { ocsp: 'unavailable', gpus: [{ rim_expires_at: '2025-06-22T09:38:54.000Z' }] },
        warnings: ['GPU 0: OCSP not checked: no OCSP client is configured'],
      },
    });
    const skip = await v.verify({ ...base, evidence: evidence2023, policy: policy({ ocsp: 'Skip' }) });
    expect(skip).toMatchObject({ ok: true, verified: { claims: { ocsp: 'skipped' }, warnings: [] } });
    const required = await v.verify({ ...base, evidence: evidence2023, policy: policy({ ocsp: 'Require' }) });
    expect(required).toEqual({
      ok: false,
      failure: { code: 'OcspUnavailable', message: 'GPU 0 (GPU-h100): OCSP is required by policy but no OCSP client is configured' },
    });
  });

  it('is the nvidia verifier, and a policy without a gpu section means OCSP Prefer', async () => {
    const v = createNvidiaVerifier({ rims: rims() });
    expect(v.tee).toBe('nvidia');
    const { gpu: _, ...noGpu } = policy();
    const r = await v.verify({ ...base, evidence: evidence2023, policy: noGpu });
    expect(r).toMatchObject({ ok: true, verified: { claims: { ocsp: 'unavailable' }, warnings: ['GPU 0: OCSP not checked: no OCSP client is configured'] } });
  });

  it('names the first failing GPU, and how many failed when more than one did', async () => {
    const v = createNvidiaVerifier({ rims: rims() });
    const dup = await v.verify({ ...base, evidence: two, policy: policy() });
    expect(dup).toEqual({
      ok: false,
      failure: { code: 'EvidenceMalformed', message: 'GPU 1 (GPU-b): GPU 1 repeats the device certificate of GPU 0; each GPU must attest itself' },
    });
    const stale = await v.verify({ ...base, evidence: two, expectedReportData: new Uint8Array(48).fill(1), policy: policy() });
    expect(stale).toMatchObject({ ok: false, failure: { code: 'NonceMismatch', message: expect.stringMatching(/^GPU 0 \(GPU-a\): SPDM request nonce .* \(2 of 2 GPUs failed\)$/) } });
  });

  it('returns the parser’s and the nonce-length failure as they are', async () => {
    const v = createNvidiaVerifier({ rims: rims() });
    expect(await v.verify({ ...base, evidence: [], policy: policy() })).toEqual({ ok: false, failure: { code: 'EvidenceMalformed', message: 'GPU evidence lists no devices' } });
    expect(await v.verify({ ...base, evidence: evidence2023, expectedReportData: new Uint8Array(31), policy: policy() })).toEqual({
      ok: false,
      failure: { code: 'NonceMismatch', message: 'expected report data is shorter than the 32-byte SPDM nonce' },
    });
    expect((await v.verify({ ...base, evidence: evidence2023, expectedReportData: reportDataFor(H100_2023.nonceHex).subarray(0, 32), policy: policy() })).ok).toBe(true);
  });

  it('applies the policy allow-lists', async () => {
    const v = createNvidiaVerifier({ rims: rims() });
    const r = await v.verify({ ...base, evidence: evidence2023, policy: policy({ allowedDriverVersions: ['550.90.07'] }) });
    expect(r).toMatchObject({ ok: false, failure: { code: 'DriverVersionNotAllowed' } });
    const vb = await v.verify({ ...base, evidence: evidence2023, policy: policy({ allowedVbiosVersions: ['96.00.9F.00.01'] }) });
    expect(vb).toMatchObject({ ok: false, failure: { code: 'VbiosVersionNotAllowed' } });
    expect((await v.verify({ ...base, evidence: evidence2023, policy: policy({ allowedDriverVersions: ['545.00'], allowedVbiosVersions: ['96.00.5E.00.01'] }) })).ok).toBe(true);
  });
});
