// The sandbox policy is part of what is attested: the guest's init-data names its policy digest, the KBS
// lifts it into the verified claims, an AttestationPolicy requiring another digest refuses with a reason
// naming it, and the simulated guest enforces the digest it launched with.
import { afterEach, describe, expect, it } from 'vitest';
import { AttestationPolicySpecSchema } from '../api/attestation-policy.ts';
import { defaultVerifierRegistry } from '../attestation/registry.ts';
import { BOOTSTRAP_RESOURCE, startSimulatedGuest, type SimulatedGuest } from '../sim/guest/guest.ts';
import { KbsClient } from '../sim/guest/kbs-client.ts';
import { challengeVerifier, injectResource } from '../release/challenge.ts';
import { startTestKbs, TEST_RESOURCE, TEST_SECRET, type TestKbs } from '../../test/support/kbs-harness.ts';
import { defaultPolicyText } from '../../test/support/pep.ts';
import { InitDataError, initDataForPolicy, policyDigestFromInitData, SANDBOX_POLICY_RESOURCE } from './attestation.ts';
import { policyDigest } from './policy.ts';

const D = policyDigest(defaultPolicyText());
const OTHER = policyDigest('{"other":true}');
let kbs: TestKbs | undefined;
let g: SimulatedGuest | undefined;
afterEach(async () => {
  await g?.close();
  await kbs?.close();
  g = kbs = undefined;
});

describe('init-data', () => {
  it('round-trips the digest through the init-data TOML', () => {
    expect(policyDigestFromInitData(initDataForPolicy(D))).toBe(D);
    expect(policyDigestFromInitData('algorithm = "sha384"\nversion = "0.1.0"\n')).toBeUndefined();
  });
  it('reads only the [data] table and skips multi-line strings', () => {
    expect(policyDigestFromInitData(`algorithm = "sha384"\n"cai-pep-policy.digest" = "${D}"\n`)).toBeUndefined();
    expect(policyDigestFromInitData(`[data]\n"aa.toml" = '''\n"cai-pep-policy.digest" = "${OTHER}"\n'''\n"cai-pep-policy.digest" = "${D}"\n`)).toBe(D);
    expect(policyDigestFromInitData(`[data]\n"x" = 1\n[other]\n"cai-pep-policy.digest" = "${OTHER}"\n`)).toBeUndefined();
  });
  it('rejects a repeated key, a malformed digest and oversized input', () => {
    expect(() => policyDigestFromInitData(`[data]\n"cai-pep-policy.digest" = "${D}"\n"cai-pep-policy.digest" = "${OTHER}"\n`)).toThrow(/more than once/);
    expect(() => policyDigestFromInitData('[data]\n"cai-pep-policy.digest" = "sha256:XYZ"\n')).toThrow(InitDataError);
    expect(() => policyDigestFromInitData('#'.repeat(70_000))).toThrow(/64 KiB/);
    expect(() => initDataForPolicy('md5:abc')).toThrow(/not a sandbox policy digest/);
  });
});

describe('AttestationPolicy.spec.sandboxPolicy through the KBS', () => {
  const requiring = { allowSampleTee: true, minimumStatus: 'warning', sandboxPolicy: { requiredDigests: [D] } };
  const refusal = () => kbs!.events.find((e) => e.type === 'release-refused') as { code: string; reason: string } | undefined;

  it('releases to a guest whose attested init-data names the required policy digest', async () => {
    kbs = await startTestKbs({ policy: requiring });
    const client = new KbsClient({ baseUrl: kbs.url, handshakeAttempts: 1, getAttempts: 3, initData: initDataForPolicy(D) });
    expect((await client.getResource(TEST_RESOURCE)).toString()).toBe(TEST_SECRET);
  });

  it('refuses a guest reporting another policy digest, with a reason naming both', async () => {
    kbs = await startTestKbs({ policy: requiring });
    const client = new KbsClient({ baseUrl: kbs.url, handshakeAttempts: 1, getAttempts: 3, initData: initDataForPolicy(OTHER) });
    await expect(client.getResource(TEST_RESOURCE)).rejects.toThrow();
    expect(refusal()).toMatchObject({ code: 'SandboxPolicyMismatch' });
    expect(refusal()!.reason).toBe(`agent agents/bot: the guest runs sandbox policy digest ${OTHER}; the AttestationPolicy requires sandbox policy digest ${D}`);
    expect(kbs.events.some((e) => e.type === 'released')).toBe(false);
  });

  it('refuses a guest reporting no policy digest', async () => {
    kbs = await startTestKbs({ policy: requiring });
    await expect(new KbsClient({ baseUrl: kbs.url, handshakeAttempts: 1, getAttempts: 3 }).getResource(TEST_RESOURCE)).rejects.toThrow();
    expect(refusal()?.reason).toMatch(/reports no sandbox policy digest in its attested init-data; the AttestationPolicy requires sandbox policy digest sha256:/);
  });

  it('is not required when the AttestationPolicy does not ask for it', async () => {
    kbs = await startTestKbs();
    const client = new KbsClient({ baseUrl: kbs.url, handshakeAttempts: 1, getAttempts: 3, initData: initDataForPolicy(OTHER) });
    expect((await client.getResource(TEST_RESOURCE)).toString()).toBe(TEST_SECRET);
  });
});

describe('the local guest enforces its launched policy digest', () => {
  const devPolicy = AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning', sandboxPolicy: { requiredDigests: [D] } });
  const verify = challengeVerifier({ registry: defaultVerifierRegistry(), policy: AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning' }), policyId: 'agents/dev', referenceValues: [] });
  const push = (guest: SimulatedGuest, resourcePath: string, value: string) =>
    injectResource({ baseUrl: `http://127.0.0.1:${guest.apiPort}`, resourcePath, plaintext: Buffer.from(value), tee: 'sample', verify, retry: { attempts: 1 } });

  it('pulls the policy over KBS (attested with its init-data) and keeps it only when the digest matches', async () => {
    kbs = await startTestKbs({ policy: devPolicy });
    kbs.sealCredential('sandbox-policy', SANDBOX_POLICY_RESOURCE, defaultPolicyText());
    kbs.lists.agents[0]!.credentials.push('sandbox-policy');
    g = await startSimulatedGuest({ host: '127.0.0.1', manifest: [SANDBOX_POLICY_RESOURCE, TEST_RESOURCE], sandboxPolicyDigest: D, kbsRetry: { attempts: 2, delayMs: 50 } });
    await push(g, BOOTSTRAP_RESOURCE, JSON.stringify({ mode: 'kbs', kbs_url: kbs.url }));
    expect((await g.waitForResource(TEST_RESOURCE, 10_000)).toString()).toBe(TEST_SECRET);
    expect(policyDigest(g.resources().get(SANDBOX_POLICY_RESOURCE)!)).toBe(D);
  });

  it('rejects a delivered policy whose bytes are not the launched digest', async () => {
    g = await startSimulatedGuest({ host: '127.0.0.1', manifest: [], sandboxPolicyDigest: D });
    await push(g, SANDBOX_POLICY_RESOURCE, '{"apiVersion":"tampered"}');
    expect(g.resources().has(SANDBOX_POLICY_RESOURCE)).toBe(false);
    expect(g.events.history.at(-1)).toMatchObject({ type: 'rejected', resourcePath: SANDBOX_POLICY_RESOURCE });
  });
});
