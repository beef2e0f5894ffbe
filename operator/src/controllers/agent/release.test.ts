import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttestationPolicy } from '../../api/attestation-policy.ts';
import type { SealedCredential } from '../../api/sealed-credential.ts';
import { EarSigner } from '../../attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../../attestation/registry.ts';
import type { InstanceInfo } from '../../cloud/provider.ts';
import { createKeyring, type SealingKeyring } from '../../release/sealing/keyring.ts';
import { startSimulatedGuest, type SimulatedGuest } from '../../sim/guest/guest.ts';
import { agent, phaseContext, readyPolicy, sealedCredential, T0 } from '../../../test/support/agent-fixtures.ts';
import { MemoryInformer } from '../../../test/support/memory-informer.ts';
import { attestPhase } from './attest.ts';
import type { AgentFacts } from './phase.ts';
import { releasePhase, type Delivery, type KbsDeliveries } from './release.ts';

const PATH = 'default/local-resources/gateway_token';
const SECRET = 'gateway-token-unit-3e9a';
let guest: SimulatedGuest;
let instance: InstanceInfo;
let keyring: SealingKeyring;
const policies = new MemoryInformer<AttestationPolicy>();
const credentials = new MemoryInformer<SealedCredential>();

beforeAll(async () => {
  guest = await startSimulatedGuest({ host: '127.0.0.1', manifest: [] });
  instance = { id: 'i-1', state: 'Running', address: '127.0.0.1', ports: { 8006: guest.apiPort } };
  keyring = await createKeyring(new Date());
  policies.set(readyPolicy());
  credentials.set(sealedCredential(keyring, 'cred', PATH, SECRET, ['a']));
  credentials.set(sealedCredential(keyring, 'not-mine', 'default/local-resources/other', 'x', ['someone-else']));
});
afterAll(() => guest.close());

/** The attested guest channel, as the attest phase hands it over. */
async function attestedGuest(): Promise<AgentFacts['guest']> {
  const r = await attestPhase({ policies, registry: defaultVerifierRegistry(), signer: EarSigner.generate(), injectRetry: { attempts: 1 } }).reconcile(agent('a'), phaseContext({ instance }));
  return r.facts!.guest!;
}

/** A KBS delivery buffer as app/kbs-service.ts keeps it. */
function kbsBuffer(entries: Record<string, { resourcePath: string; at: string; digest?: string }> = {}): KbsDeliveries {
  const m = new Map(Object.entries(entries));
  return { publicUrl: 'http://127.0.0.1:1', delivered: () => m, forget: () => m.clear() };
}

describe('release phase, challenge mode', () => {
  it('pushes each credential to the attested guest and records digest and time, never the value', async () => {
    const phase = releasePhase({ credentials, keyring: () => keyring });
    const r = await phase.reconcile(agent('a', { credentials: [{ name: 'cred' }] }), phaseContext({ instance, guest: await attestedGuest() }));
    expect(r.condition).toMatchObject({ status: 'True', reason: 'Delivered' });
    expect(r.status?.credentials).toEqual([{ name: 'cred', resourcePath: PATH, mode: 'Challenge', digest: expect.stringMatching(/^[0-9a-f]{64}$/), deliveredAt: new Date(T0).toISOString() }]);
    expect(r.events?.[0]).toMatchObject({ reason: 'CredentialReleased' });
    expect(JSON.stringify(r)).not.toContain(SECRET);
    expect(guest.resources().get(PATH)?.toString()).toBe(SECRET);
  });

  it('does not push again what status records as delivered (same ciphertext)', async () => {
    const phase = releasePhase({ credentials, keyring: () => keyring });
    const first = await phase.reconcile(agent('a', { credentials: [{ name: 'cred' }] }), phaseContext({ instance, guest: await attestedGuest() }));
    let pushes = 0;
    const counting: AgentFacts['guest'] = { push: async () => (pushes++, { ok: false, code: 'Transport', message: 'unused', attempts: 1 }) };
    const again = await phase.reconcile(agent('a', { credentials: [{ name: 'cred' }] }, { status: { credentials: first.status!.credentials! } }), phaseContext({ instance, guest: counting }));
    expect(again.condition.status).toBe('True');
    expect(again.events).toEqual([]);
    expect(pushes).toBe(0);
  });

  it('refuses out-of-scope and missing credentials, each with its reason, releasing nothing for them', async () => {
    const phase = releasePhase({ credentials, keyring: () => keyring });
    const r = await phase.reconcile(agent('a', { credentials: [{ name: 'not-mine' }, { name: 'gone' }] }), phaseContext({ instance, guest: await attestedGuest() }));
    expect(r.condition).toMatchObject({ status: 'False', reason: 'NotInScope' });
    expect(r.condition.message).toContain('SealedCredential gone does not exist');
    expect(r.status?.credentials).toEqual([]);
    expect(r.requeueAfterMs).toBe(30_000);
  });
});

describe('release phase, KBS mode (level-triggered)', () => {
  const kbsAgent = (status = {}) => agent('a', { credentials: [{ name: 'cred' }], delivery: { mode: 'KBS' } }, { status });
  const notAttestedNow: AgentFacts['guest'] = { push: () => Promise.reject(new Error('no push in KBS mode')) };

  it('records what the KBS released into status, with an Event', async () => {
    const at = new Date(T0 + 1000).toISOString();
    const phase = releasePhase({ credentials, keyring: () => keyring, kbs: kbsBuffer({ cred: { resourcePath: PATH, at } }) });
    const r = await phase.reconcile(kbsAgent(), phaseContext({ instance, guest: notAttestedNow }));
    expect(r.condition).toMatchObject({ status: 'True', reason: 'Delivered' });
    expect(r.status?.credentials).toEqual([expect.objectContaining({ name: 'cred', mode: 'KBS', deliveredAt: at })]);
    expect(r.events?.[0]).toMatchObject({ reason: 'CredentialReleased' });
  });

  it('after a restart (empty KBS buffer) the delivery in status stands: True, no Event, nothing re-released', async () => {
    const at = new Date(T0 + 1000).toISOString();
    const recorded = (await releasePhase({ credentials, keyring: () => keyring, kbs: kbsBuffer({ cred: { resourcePath: PATH, at } }) }).reconcile(kbsAgent(), phaseContext({ instance, guest: notAttestedNow }))).status!.credentials!;
    const restarted = releasePhase({ credentials, keyring: () => keyring, kbs: kbsBuffer() });
    const r = await restarted.reconcile(kbsAgent({ credentials: recorded }), phaseContext({ instance, guest: notAttestedNow }));
    expect(r.condition).toMatchObject({ status: 'True', reason: 'Delivered' });
    expect(r.status?.credentials).toEqual(recorded);
    expect(r.events).toEqual([]);
  });

  it('a fresh attestation of a new instance drops earlier deliveries and older KBS releases', async () => {
    const old: Delivery = { name: 'cred', resourcePath: PATH, mode: 'KBS', digest: 'x'.repeat(64), deliveredAt: new Date(T0 - 5000).toISOString() };
    const phase = releasePhase({ credentials, keyring: () => keyring, kbs: kbsBuffer({ cred: { resourcePath: PATH, at: new Date(T0 - 5000).toISOString() } }) });
    const r = await phase.reconcile(kbsAgent({ credentials: [old] }), phaseContext({ instance, guest: { ...notAttestedNow, attestedBecause: 'InstanceChanged', newInstance: true } }));
    expect(r.condition).toMatchObject({ status: 'False', reason: 'WaitingForGuestFetch' });
    expect(r.status?.credentials).toEqual([]);
  });

  it('a re-sealed credential (new ciphertext) is not covered by the old delivery', async () => {
    const stale: Delivery = { name: 'cred', resourcePath: PATH, mode: 'KBS', digest: '0'.repeat(64), deliveredAt: new Date(T0).toISOString() };
    const r = await releasePhase({ credentials, keyring: () => keyring, kbs: kbsBuffer() }).reconcile(kbsAgent({ credentials: [stale] }), phaseContext({ instance, guest: notAttestedNow }));
    expect(r.condition).toMatchObject({ status: 'False', reason: 'WaitingForGuestFetch' });
  });

  it('a release of the value before a rotation is recorded with that value\'s digest, not the current one, and waits for the new value', async () => {
    const at = new Date(T0 + 1000).toISOString();
    const before = 'a'.repeat(64); // the envelope the KBS released (its receipt says so); the credential has been re-sealed since
    const r = await releasePhase({ credentials, keyring: () => keyring, kbs: kbsBuffer({ cred: { resourcePath: PATH, at, digest: before } }) }).reconcile(kbsAgent(), phaseContext({ instance, guest: notAttestedNow }));
    expect(r.status?.credentials).toEqual([expect.objectContaining({ name: 'cred', mode: 'KBS', digest: before, deliveredAt: at })]);
    expect(r.condition).toMatchObject({ status: 'False', reason: 'WaitingForGuestFetch' });
    // The same receipt carrying the current digest is a delivery of the current value.
    const current = (await releasePhase({ credentials, keyring: () => keyring, kbs: kbsBuffer({ cred: { resourcePath: PATH, at } }) }).reconcile(kbsAgent(), phaseContext({ instance, guest: notAttestedNow }))).status!.credentials![0]!.digest;
    const fresh = await releasePhase({ credentials, keyring: () => keyring, kbs: kbsBuffer({ cred: { resourcePath: PATH, at, digest: current } }) }).reconcile(kbsAgent(), phaseContext({ instance, guest: notAttestedNow }));
    expect(fresh.condition).toMatchObject({ status: 'True', reason: 'Delivered' });
  });

  it('finalize forgets the KBS buffer of the agent', async () => {
    const kbs = kbsBuffer({ cred: { resourcePath: PATH, at: new Date(T0).toISOString() } });
    expect(await releasePhase({ credentials, keyring: () => keyring, kbs }).finalize!(kbsAgent(), phaseContext())).toEqual({ done: true });
    expect(kbs.delivered('agents/a').size).toBe(0);
  });
});

describe('phase order', () => {
  it('release before attest is a PhaseOrderError naming what is missing', async () => {
    await expect(releasePhase({ credentials, keyring: () => keyring }).reconcile(agent('a'), phaseContext({ instance }))).rejects.toMatchObject({ code: 'PhaseOrder', message: expect.stringContaining('attested guest') });
  });
});
