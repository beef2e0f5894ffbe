import { afterEach, describe, expect, it } from 'vitest';
import { AttestationPolicySpecSchema } from '../../api/attestation-policy.ts';
import { defaultVerifierRegistry } from '../../attestation/registry.ts';
import { challengeVerifier, injectResource } from '../../release/challenge.ts';
import { encryptToTeeKey } from '../../release/jwe.ts';
import { startTestKbs, TEST_RESOURCE, TEST_SECRET, type TestKbs } from '../../../test/support/kbs-harness.ts';
import { generateTeeKeyPair } from '../../protocol/tee-key.ts';
import { initDataForPolicy, SANDBOX_POLICY_RESOURCE } from '../../pep/attestation.ts';
import { policyDigest } from '../../pep/policy.ts';
import { BOOTSTRAP_RESOURCE, startSimulatedGuest, type SimulatedGuest } from './guest.ts';
import { httpCall } from './http.ts';
import { KbsClient } from './kbs-client.ts';

const policy = AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning' });
const verify = challengeVerifier({ registry: defaultVerifierRegistry(), policy, policyId: 'agents/dev', referenceValues: [] });
let g: SimulatedGuest | undefined;
let kbs: TestKbs | undefined;
afterEach(async () => {
  await g?.close();
  await kbs?.close();
  g = kbs = undefined;
});

const push = (guest: SimulatedGuest, resourcePath: string, value: string) =>
  injectResource({ baseUrl: `http://127.0.0.1:${guest.apiPort}`, resourcePath, plaintext: Buffer.from(value), tee: 'sample', verify, retry: { attempts: 1 } });

describe('simulated guest', () => {
  it('KBS mode: the bootstrap config makes it pull its manifest from the KBS and decrypt it', async () => {
    kbs = await startTestKbs();
    g = await startSimulatedGuest({ host: '127.0.0.1', manifest: [TEST_RESOURCE], kbsRetry: { attempts: 3, delayMs: 50 } });
    expect((await push(g, BOOTSTRAP_RESOURCE, JSON.stringify({ mode: 'kbs', kbs_url: kbs.url }))).ok).toBe(true);
    expect((await g.waitForResource(TEST_RESOURCE, 10_000)).toString()).toBe(TEST_SECRET);
    expect(g.events.history.map((e) => e.type)).toEqual(['injected', 'bootstrap', 'kbs-attested', 'fetched']);
    expect(kbs.events.map((e) => e.type)).toEqual(['attested', 'released']);
    // Each decrypt names the TEE key it was decrypted under; the fetch's is the key the KBS's EAR names.
    const [injected, , attested, fetched] = g.events.history as Array<{ teeKey?: string; status?: string }>;
    expect(injected?.teeKey).toMatch(/^[0-9a-f]{16}$/);
    expect(attested).toMatchObject({ teeKey: fetched?.teeKey, status: 'warning' });
    expect(fetched?.teeKey).not.toBe(injected?.teeKey);
  });

  it('KBS mode with hostile evidence (kbsEvidence): the KBS refuses it and nothing is fetched', async () => {
    kbs = await startTestKbs();
    const { sampleCompositeEvidence } = await import('./kbs-client.ts');
    g = await startSimulatedGuest({ host: '127.0.0.1', manifest: [TEST_RESOURCE], kbsRetry: { attempts: 2, delayMs: 20 }, kbsEvidence: (nonce, key) => sampleCompositeEvidence(`${nonce}x`, key) });
    const refused = new Promise<void>((resolve) => g!.events.on('event', (e: { type: string }) => e.type === 'kbs-error' && resolve()));
    await push(g, BOOTSTRAP_RESOURCE, JSON.stringify({ mode: 'kbs', kbs_url: kbs.url }));
    await refused;
    expect(g.events.history.some((e) => e.type === 'kbs-error' && e.code === 'AttestationRefused')).toBe(true);
    expect(g.events.history.filter((e) => e.type === 'fetched' || e.type === 'kbs-attested')).toEqual([]);
    expect(kbs.events.some((e) => e.type === 'released')).toBe(false);
  });

  it('KBS mode over HTTPS with the CA handed over in the bootstrap config (KBS_CERT)', async () => {
    const { generateControlPlaneCerts } = await import('../../envtest/certs.ts');
    const certs = await generateControlPlaneCerts({ servingHosts: ['127.0.0.1'] });
    kbs = await startTestKbs({ server: { tls: { key: certs.serving.keyPem, cert: certs.serving.certPem } } });
    expect(kbs.url).toMatch(/^https:/);
    g = await startSimulatedGuest({ host: '127.0.0.1', manifest: [TEST_RESOURCE], kbsRetry: { attempts: 2, delayMs: 50 } });
    await push(g, BOOTSTRAP_RESOURCE, JSON.stringify({ mode: 'kbs', kbs_url: kbs.url, kbs_cert: certs.ca.certPem }));
    expect((await g.waitForResource(TEST_RESOURCE, 10_000)).toString()).toBe(TEST_SECRET);
    const untrusting = new KbsClient({ baseUrl: kbs.url, handshakeAttempts: 1, getAttempts: 1 });
    await expect(untrusting.getResource(TEST_RESOURCE)).rejects.toMatchObject({ code: 'Transport' });
  });

  it('KBS mode retries through refusals (401 → re-attest) and reports them without values', async () => {
    kbs = await startTestKbs();
    const saved = kbs.lists.agents[0]!.identity;
    kbs.lists.agents[0]!.identity = { peerAddress: '10.1.1.1' };
    g = await startSimulatedGuest({ host: '127.0.0.1', manifest: [TEST_RESOURCE], kbsRetry: { attempts: 20, delayMs: 50 } });
    const refused = new Promise<void>((resolve) => g!.events.on('event', (e: { type: string }) => e.type === 'kbs-error' && resolve()));
    await push(g, BOOTSTRAP_RESOURCE, JSON.stringify({ mode: 'kbs', kbs_url: kbs.url }));
    await refused;
    kbs.lists.agents[0]!.identity = saved;
    expect((await g.waitForResource(TEST_RESOURCE, 10_000)).toString()).toBe(TEST_SECRET);
    expect(g.events.history.some((e) => e.type === 'kbs-error' && e.code === 'AttestationRefused')).toBe(true);
    expect(JSON.stringify(g.events.history)).not.toContain('kbs-test-secret');
  });

  it('challenge mode waits for pushes; prepare sessions are single use and bound to their path and key', async () => {
    g = await startSimulatedGuest({ host: '127.0.0.1', manifest: [TEST_RESOURCE] });
    await push(g, BOOTSTRAP_RESOURCE, '{"mode":"challenge"}');
    expect((await push(g, 'default/local-resources/sshd_server_key', 'key-material')).ok).toBe(true);
    expect([...g.resources().keys()].sort()).toEqual([BOOTSTRAP_RESOURCE, 'default/local-resources/sshd_server_key']);

    const base = `http://127.0.0.1:${g.apiPort}/cdh/resource-injection`;
    const prep = await httpCall('POST', `${base}/prepare/a/b/c`, { body: { nonce: 'n1' } });
    const p = JSON.parse(prep.body.toString()) as { session_id: string; tee_pubkey: unknown };
    const wrongKey = encryptToTeeKey(generateTeeKeyPair().publicKey, Buffer.from('x'));
    const rejected = await httpCall('POST', `${base}/commit/a/b/c`, { body: { session_id: p.session_id, encrypted_resource: wrongKey } });
    expect(rejected.status).toBe(400);
    const reused = await httpCall('POST', `${base}/commit/a/b/c`, { body: { session_id: p.session_id, encrypted_resource: wrongKey } });
    expect(reused.status).toBe(400);
    const prep2 = JSON.parse((await httpCall('POST', `${base}/prepare/a/b/c`, { body: { nonce: 'n2' } })).body.toString()) as { session_id: string };
    const otherPath = await httpCall('POST', `${base}/commit/a/b/d`, { body: { session_id: prep2.session_id, encrypted_resource: wrongKey } });
    expect(otherPath.status).toBe(400);
    expect((await httpCall('POST', `${base}/prepare/a/b/c`, { body: { nonce: 5 } })).status).toBe(400);
    expect((await httpCall('GET', `${base}/prepare/a/b/c`)).status).toBe(405);
    expect((await httpCall('POST', `${base}/prepare/../x/y`, { body: { nonce: 'n' } })).status).toBe(404);
    expect(g.resources().has('a/b/c')).toBe(false);
  });
});

describe("the guest's PEP takes only the sandbox policy its init-data names", () => {
  // Two valid documents (the seed format, every field defaulted) that differ in one byte-visible field.
  const A = '{"timeout_secs": 30}';
  const B = '{"timeout_secs": 31}';
  const bootstrap = (policy: string) => JSON.stringify({ mode: 'challenge', sandbox_policy: policy });

  it('the launched digest: loaded; another document, a non-string or a non-object bootstrap: rejected (commit 400), nothing loaded', async () => {
    g = await startSimulatedGuest({ host: '127.0.0.1', manifest: [], initData: initDataForPolicy(policyDigest(A)) });
    const other = await push(g, BOOTSTRAP_RESOURCE, bootstrap(B));
    expect(other).toMatchObject({ ok: false, code: 'CommitRejected', message: 'commit returned HTTP 400' });
    expect(g.events.history.at(-1)).toEqual({ type: 'rejected', resourcePath: BOOTSTRAP_RESOURCE, reason: `sandbox policy digest ${policyDigest(B)} is not the launched ${policyDigest(A)}` });
    for (const bad of [JSON.stringify({ mode: 'challenge', sandbox_policy: 5 }), '"just a string"', 'not json']) {
      expect((await push(g, BOOTSTRAP_RESOURCE, bad)).ok).toBe(false);
    }
    expect(g.pep()).toBeUndefined();
    expect(g.resources().size).toBe(0);
    expect((await push(g, BOOTSTRAP_RESOURCE, bootstrap(A))).ok).toBe(true);
    expect(g.pep()?.digest).toBe(policyDigest(A));
    // the older delivery path (a credential at default/cai-pep/policy) is held to the same check
    expect((await push(g, SANDBOX_POLICY_RESOURCE, B)).ok).toBe(false);
    expect(g.pep()?.digest).toBe(policyDigest(A));
  });

  it('a guest launched without a sandbox policy digest loads none (nothing it loaded would be attested)', async () => {
    g = await startSimulatedGuest({ host: '127.0.0.1', manifest: [] });
    expect((await push(g, BOOTSTRAP_RESOURCE, bootstrap(A))).ok).toBe(false);
    expect(g.events.history.at(-1)?.type).toBe('rejected');
    expect(g.pep()).toBeUndefined();
    expect((await push(g, BOOTSTRAP_RESOURCE, JSON.stringify({ mode: 'challenge' }))).ok).toBe(true);
  });
});

describe('no secret in logs or events', () => {
  it('a full run in both delivery modes logs no secret value (pino output scanned)', async () => {
    const { default: pino } = await import('pino');
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    kbs = await startTestKbs({ server: { logger } });
    g = await startSimulatedGuest({ host: '127.0.0.1', manifest: [TEST_RESOURCE, 'default/local-resources/missing'], logger, kbsRetry: { attempts: 2, delayMs: 20 } });
    const pushed = 'challenge-pushed-secret-0b9e';
    expect((await push(g, 'default/local-resources/disk_passphrase', pushed)).ok).toBe(true);
    await push(g, BOOTSTRAP_RESOURCE, JSON.stringify({ mode: 'kbs', kbs_url: kbs.url }));
    await g.waitForResource(TEST_RESOURCE, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const all = [...lines, JSON.stringify(g.events.history), JSON.stringify(kbs.events)].join('\n');
    expect(lines.length).toBeGreaterThan(3);
    expect(all).toContain('released');
    for (const secret of [pushed, 'kbs-test-secret', Buffer.from(pushed).toString('base64'), Buffer.from(TEST_SECRET).toString('base64')]) {
      expect(all).not.toContain(secret);
    }
    expect(all).not.toMatch(/eyJhbGciOiJFUzI1NiI/); // no EAR token in logs
  });
});
