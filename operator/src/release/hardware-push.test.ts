// Library-level end to end on hardware evidence: the simulated guest presents a TDX quote + CC event log and
// eight H100 GPU reports, all re-signed by test PKIs over each fresh nonce; the operator side runs the real TDX
// and NVIDIA verifiers (collateral from a loopback PCCS, RIMs and OCSP from loopback services) under the
// shipped production policy (policies/attestation/gn8v-tee-production.yaml) with only the roots and service
// endpoints substituted. Both delivery modes release; without GPU evidence the push is refused GpuEvidenceMissing.
// (The controller-level version against the API server is test/integration/hardware-release.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttestationPolicySpec } from '../api/attestation-policy.ts';
import { EarSigner } from '../attestation/policy/ear.ts';
import { defaultVerifierRegistry, type VerifierRegistry } from '../attestation/registry.ts';
import { createNvidiaVerifier, HttpOcspClient, HttpRimSource } from '../attestation/nvidia/index.ts';
import { createPccsCollateralSources, createTdxVerifier } from '../attestation/tdx/index.ts';
import { BOOTSTRAP_RESOURCE, startSimulatedGuest, type SimulatedGuest } from '../sim/guest/guest.ts';
import { GPU_COUNT, productionPolicy, startHardwareEvidence, type HardwareEvidence } from '../../test/support/hardware-evidence.ts';
import { challengeVerifier, injectResource, PREPARE_RESPONSE_MAX_BYTES } from './challenge.ts';
import { startTestKbs, TEST_RESOURCE, TEST_SECRET, type TestKbs } from '../../test/support/kbs-harness.ts';

let hw: HardwareEvidence;
let registry: VerifierRegistry;
let policy: AttestationPolicySpec;
const cleanups: Array<() => Promise<void>> = [];
beforeAll(async () => {
  hw = await startHardwareEvidence();
  const sources = createPccsCollateralSources({ now: Date.now, rootCaPem: hw.anchors.intelRootCaPem! });
  registry = defaultVerifierRegistry([
    createTdxVerifier({ collateralFor: sources, intelRootCaPem: hw.anchors.intelRootCaPem! }),
    createNvidiaVerifier({ rims: new HttpRimSource(), ocsp: new HttpOcspClient(), roots: { deviceRootPem: hw.anchors.nvidiaDeviceRootPem!, rimRootPem: hw.anchors.nvidiaRimRootPem! } }),
  ]);
  policy = productionPolicy(hw).spec;
});
afterAll(async () => {
  for (const c of cleanups.splice(0)) await c();
  await hw?.close();
});

const referenceValues = () => [{ name: 'measurement.uki.SHA-384', digest: hw.ukiSha384 }];
async function guestWith(gpus: number, manifest: string[] = [], attester = hw.attester({ gpus })): Promise<SimulatedGuest> {
  const g = await startSimulatedGuest({ host: '127.0.0.1', manifest, attester, kbsRetry: { attempts: 3, delayMs: 50 } });
  cleanups.push(() => g.close());
  return g;
}
const push = (g: SimulatedGuest, resourcePath: string, value: string) =>
  injectResource({
    baseUrl: `http://127.0.0.1:${g.apiPort}`,
    resourcePath,
    plaintext: Buffer.from(value),
    tee: 'tdx',
    verify: challengeVerifier({ registry, policy, policyId: 'agents/gn8v-tee-prod', referenceValues: referenceValues(), signer: EarSigner.generate() }),
    retry: { attempts: 1 },
  });

describe('production policy, TDX + 8 GPUs re-signed over each fresh nonce', () => {
  it('the policy is the shipped one: GPUs required with OCSP, affirming only, UpToDate only, event log required', () => {
    expect([policy.gpu?.required, policy.gpu?.ocsp, policy.minimumStatus, policy.tdx?.acceptedTcbStatuses, policy.tdx?.requireEventLog, policy.allowSampleTee]).toEqual([
      true,
      'Require',
      'affirming',
      ['UpToDate'],
      true,
      false,
    ]);
  });

  it('challenge mode: composite evidence verifies (cpu0 + GPUs affirming) and the guest decrypts the value', async () => {
    const g = await guestWith(GPU_COUNT);
    const before = hw.produced();
    const r = await push(g, 'default/local-resources/disk_passphrase', 'hw-push-value-81c2');
    expect(r.ok ? r.appraisal.status : r).toBe('affirming');
    if (!r.ok) return;
    expect(r.appraisal.submods.map((s) => [s.name, s.status])).toEqual([
      ['cpu0', 'affirming'],
      ['gpu0', 'affirming'],
    ]);
    expect(g.resources().get('default/local-resources/disk_passphrase')?.toString()).toBe('hw-push-value-81c2');
    const after = hw.produced();
    expect([after.quotes - before.quotes, after.gpuReports - before.gpuReports]).toEqual([1, GPU_COUNT]);
    // The trust material really came from the loopback services: collateral, both RIMs, OCSP for the chains.
    expect(Object.values(hw.requests()).every((n) => n > 0)).toBe(true);
  });

  it('KBS mode: after the attested bootstrap push the guest attests to the KBS with the same composite evidence and pulls', async () => {
    const kbs: TestKbs = await startTestKbs({ policy: productionPolicy(hw).raw, server: { registry } });
    cleanups.push(() => kbs.close());
    kbs.lists.policies[0]!.referenceValues = referenceValues();
    const g = await guestWith(GPU_COUNT, [TEST_RESOURCE]);
    const boot = await push(g, BOOTSTRAP_RESOURCE, JSON.stringify({ mode: 'kbs', kbs_url: kbs.url }));
    expect(boot.ok).toBe(true);
    expect((await g.waitForResource(TEST_RESOURCE, 20_000)).toString()).toBe(TEST_SECRET);
    const attested = kbs.events.find((e) => e.type === 'attested');
    expect(attested && 'status' in attested ? [attested.tee, attested.status] : attested).toEqual(['tdx', 'affirming']);
  });

  it('without GPU evidence the push is refused GpuEvidenceMissing and nothing is released', async () => {
    const g = await guestWith(0);
    const r = await push(g, 'default/local-resources/disk_passphrase', 'never-released-0c1d');
    expect(!r.ok && [r.code, r.verification?.code]).toEqual(['VerificationFailed', 'GpuEvidenceMissing']);
    expect(g.resources().size).toBe(0);
  });

  it('the nonce is bound into both: GPU reports over a stale nonce, or a quote over stale runtime data, are refused', async () => {
    const genuine = hw.attester();
    const stale = Buffer.alloc(48, 0x5a);
    const staleGpus = await guestWith(GPU_COUNT, [], { ...genuine, devices: () => genuine.devices!(stale) });
    const r1 = await push(staleGpus, 'default/local-resources/disk_passphrase', 'never-released-1');
    expect(!r1.ok && [r1.code, r1.verification?.code]).toEqual(['VerificationFailed', 'NonceMismatch']);
    expect(!r1.ok && r1.verification?.message).toMatch(/GPU 0|nonce/i);
    const staleQuote = await guestWith(GPU_COUNT, [], { ...genuine, primary: () => genuine.primary(stale) });
    const r2 = await push(staleQuote, 'default/local-resources/disk_passphrase', 'never-released-2');
    expect(!r2.ok && [r2.code, r2.verification?.code]).toEqual(['VerificationFailed', 'ReportDataMismatch']);
    expect(staleGpus.resources().size + staleQuote.resources().size).toBe(0);
  });

  it('the 8-GPU prepare reply stays well under the cap', async () => {
    const g = await guestWith(GPU_COUNT);
    const res = await fetch(`http://127.0.0.1:${g.apiPort}/cdh/resource-injection/prepare/a/b/c`, { method: 'POST', body: JSON.stringify({ nonce: 'size-probe' }) });
    const size = (await res.arrayBuffer()).byteLength;
    console.log(`8-GPU composite prepare reply: ${size} bytes (cap ${PREPARE_RESPONSE_MAX_BYTES})`);
    expect(size).toBeLessThan(PREPARE_RESPONSE_MAX_BYTES / 2);
  });
});
