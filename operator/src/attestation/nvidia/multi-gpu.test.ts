// End-to-end over HTTP with a test PKI: eight GPUs (HGX layout) whose reports are the captured H100
// report re-signed by per-GPU test keys, NVIDIA's RIMs re-signed by a test RIM signer and served by a
// local RIM service, and OCSP answered by a local responder signing with test CAs.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttestationPolicySpec } from '../../api/attestation-policy.ts';
import { H100_2023, kbsEntry } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { startOcspResponder, startRimService, type LocalServer } from '../../../test/fixtures/nvidia/support/servers.ts';
import { resignReport, resignRim } from '../../../test/fixtures/nvidia/support/synthetic.ts';
import {
  makeCert,
  makeDeviceLeaf,
  makeOcspResponse,
  makeTestPki,
  requestedSerial,
  serialHex,
  type OcspAnswer,
  type TestCert,
} from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { HttpOcspClient } from './ocsp-client.ts';
import { HttpRimSource, MapRimSource, PolicyRimSource } from './rim-source.ts';
import { createNvidiaVerifier } from './verifier.ts';

const pki = makeTestPki();
const provisionerB = makeCert({ cn: 'Test Provisioner B', issuer: pki.deviceIdentity, ca: true });
const leaves: TestCert[] = Array.from({ length: 8 }, (_, i) => (i === 5 ? makeCert({ cn: 'GPU 5 LF', issuer: provisionerB }) : makeDeviceLeaf(pki, `GPU ${i} LF`)));
const nonce = new Uint8Array(randomBytes(32));
const reportData = new Uint8Array([...nonce, ...randomBytes(16)]);
const rimChain = [pki.rimSigner, pki.rimCa, pki.rimRoot];
const testRims = new Map([
  [H100_2023.driverRimId, resignRim(H100_2023.driverRim, pki.rimSigner, rimChain)],
  [H100_2023.vbiosRimId, resignRim(H100_2023.vbiosRim, pki.rimSigner, rimChain)],
]);
const roots = { deviceRootPem: pki.deviceRoot.pem, rimRootPem: pki.rimRoot.pem };
const rimSerials = new Set([serialHex(pki.rimSigner), serialHex(pki.rimCa)]);
const status = new Map<string, OcspAnswer>();

let rimService: LocalServer;
let ocsp: LocalServer;
beforeAll(async () => {
  rimService = await startRimService(testRims);
  ocsp = await startOcspResponder((req) => {
    const serial = requestedSerial(req);
    return makeOcspResponse({
      requestDer: req,
      responder: rimSerials.has(serial) ? pki.rimResponder : pki.deviceResponder,
      statusOf: (s) => status.get(s) ?? 'good',
      thisUpdate: new Date('2024-05-31T00:00:00Z'),
      nextUpdate: new Date('2024-06-08T00:00:00Z'),
    });
  });
});
afterAll(async () => {
  await rimService.close();
  await ocsp.close();
});

const chainPem = (leaf: TestCert): string =>
  [leaf, leaf.name === 'GPU 5 LF' ? provisionerB : pki.deviceProvisioner, pki.deviceIdentity, pki.deviceRoot].map((c) => c.pem).join('');
const evidence = (mutate?: (entries: Record<string, string>[]) => void) => {
  const entries = leaves.map((leaf, i) => kbsEntry(resignReport(leaf, nonce), chainPem(leaf), `GPU-${i}`));
  mutate?.(entries);
  return { device_evidence_list: entries };
};
const policy = (ocspMode: 'Require' | 'Prefer' | 'Skip', gpu: Partial<NonNullable<AttestationPolicySpec['gpu']>> = {}): AttestationPolicySpec => ({
  allowSampleTee: false,
  minimumStatus: 'affirming',
  reattestIntervalSeconds: 3600,
  gpu: { required: true, ocsp: ocspMode, rimServiceUrl: rimService.url, ocspUrl: ocsp.url, ...gpu },
});
const verifier = () => createNvidiaVerifier({ rims: new HttpRimSource(), ocsp: new HttpOcspClient(), roots });
const at = H100_2023.pinnedTime;

describe('multi-GPU appraisal (8 GPUs, local RIM service and OCSP responder)', () => {
  it('passes when every GPU verifies, with OCSP good for device and RIM chains', async () => {
    status.clear();
    const r = await verifier().verify({ evidence: evidence(), expectedReportData: reportData, at, policy: policy('Require') });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.verified.claims).toMatchObject({ gpu_count: 8, driver_versions: ['545.00'], vbios_versions: ['96.00.5E.00.01'], ocsp: 'good' });
    expect((r.verified.claims.gpus as { uuid: string }[]).map((g) => g.uuid)).toEqual(leaves.map((_, i) => `GPU-${i}`));
  });

  it('does not ask OCSP about the device leaf (per-boot key, unknown to NVIDIA OCSP), as NVIDIA does not', async () => {
    status.clear();
    for (const leaf of leaves) status.set(serialHex(leaf), 'unknown');
    const r = await verifier().verify({ evidence: evidence(), expectedReportData: reportData, at, policy: policy('Require') });
    expect(r.ok).toBe(true);
    status.clear();
  });

  it('fails the whole set when one GPU’s provisioning CA is revoked, naming that GPU', async () => {
    status.clear();
    status.set(serialHex(provisionerB), 'revoked');
    const r = await verifier().verify({ evidence: evidence(), expectedReportData: reportData, at, policy: policy('Prefer') });
    expect(r).toMatchObject({ ok: false, failure: { code: 'OcspRevoked', message: expect.stringMatching(/^GPU 5 \(GPU-5\): device certificate 'Test Provisioner B' is revoked/) } });
    status.clear();
  });

  it('fails when the RIM signing certificate is revoked or unknown', async () => {
    status.set(serialHex(pki.rimSigner), 'revoked');
    const revoked = await verifier().verify({ evidence: evidence(), expectedReportData: reportData, at, policy: policy('Require') });
    expect(revoked).toMatchObject({ ok: false, failure: { code: 'OcspRevoked', message: expect.stringMatching(/rim certificate 'Test RIM Signer'/) } });
    status.set(serialHex(pki.rimSigner), 'unknown');
    const unknown = await verifier().verify({ evidence: evidence(), expectedReportData: reportData, at, policy: policy('Require') });
    expect(unknown).toMatchObject({ ok: false, failure: { code: 'OcspUnknown' } });
    status.clear();
  });

  it('rejects one GPU with a foreign nonce, and a replayed (duplicate) GPU', async () => {
    const other = new Uint8Array(32).fill(9);
    const r = await verifier().verify({
      evidence: evidence((e) => {
        e[2] = kbsEntry(resignReport(leaves[2] as TestCert, other), chainPem(leaves[2] as TestCert), 'GPU-2');
      }),
      expectedReportData: reportData,
      at,
      policy: policy('Skip'),
    });
    expect(r).toMatchObject({ ok: false, failure: { code: 'NonceMismatch', message: expect.stringMatching(/^GPU 2 \(GPU-2\)/) } });
    const dup = await verifier().verify({
      evidence: evidence((e) => {
        e[7] = { ...(e[0] as Record<string, string>), uuid: 'GPU-7' };
      }),
      expectedReportData: reportData,
      at,
      policy: policy('Skip'),
    });
    expect(dup).toMatchObject({ ok: false, failure: { code: 'EvidenceMalformed', message: expect.stringMatching(/GPU 7 repeats the device certificate of GPU 0/) } });
  });

  it('OCSP outage: Prefer passes with a warning and ocsp=unavailable; Require fails', async () => {
    const down = await startOcspResponder(() => 503);
    try {
      const prefer = await verifier().verify({ evidence: evidence(), expectedReportData: reportData, at, policy: policy('Prefer', { ocspUrl: down.url }) });
      expect(prefer.ok).toBe(true);
      if (prefer.ok) {
        expect(prefer.verified.claims.ocsp).toBe('unavailable');
        expect(prefer.verified.warnings[0]).toMatch(/HTTP 503/);
      }
      const require = await verifier().verify({ evidence: evidence(), expectedReportData: reportData, at, policy: policy('Require', { ocspUrl: down.url }) });
      expect(require).toMatchObject({ ok: false, failure: { code: 'OcspUnavailable' } });
    } finally {
      await down.close();
    }
  });

  it('RIM service outage fails with RimUnavailable; offline ConfigMap RIMs need no network', async () => {
    const down = await startRimService(testRims, { status: 500 });
    try {
      const r = await verifier().verify({ evidence: evidence(), expectedReportData: reportData, at, policy: policy('Skip', { rimServiceUrl: down.url }) });
      expect(r).toMatchObject({ ok: false, failure: { code: 'RimUnavailable' } });
    } finally {
      await down.close();
    }
    const configMap = new MapRimSource(testRims);
    const offline = createNvidiaVerifier({
      rims: new PolicyRimSource({ configMaps: (name) => (name === 'gpu-rims' ? new Map(testRims) : undefined) }),
      roots,
    });
    const r = await offline.verify({ evidence: evidence(), expectedReportData: reportData, at, policy: policy('Skip', { rimConfigMapRef: { name: 'gpu-rims' } }) });
    expect(r.ok).toBe(true);
    expect(await configMap.getRim(H100_2023.driverRimId)).toBe(testRims.get(H100_2023.driverRimId));
  });
});
