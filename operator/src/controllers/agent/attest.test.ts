import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttestationPolicy } from '../../api/attestation-policy.ts';
import type { SealedCredential } from '../../api/sealed-credential.ts';
import { EarSigner } from '../../attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../../attestation/registry.ts';
import type { InstanceInfo } from '../../cloud/provider.ts';
import { BOOTSTRAP_RESOURCE } from '../../protocol/bootstrap.ts';
import { startSimulatedGuest, type SimulatedGuest } from '../../sim/guest/guest.ts';
import { agent, NS, phaseContext, readyPolicy, T0 } from '../../../test/support/agent-fixtures.ts';
import { MemoryInformer } from '../../../test/support/memory-informer.ts';
import { RuntimeError } from '../../runtime/errors.ts';
import { attestPhase, untilRecheck } from './attest.ts';
import { attestationDue, TRIGGERS, type TriggerInput } from './triggers.ts';

let guest: SimulatedGuest;
let instance: InstanceInfo;
beforeAll(async () => {
  guest = await startSimulatedGuest({ host: '127.0.0.1', manifest: [] });
  instance = { id: 'i-1', state: 'Running', address: '127.0.0.1', ports: { 8006: guest.apiPort } };
});
afterAll(() => guest.close());

function setup(policy?: AttestationPolicy) {
  const policies = new MemoryInformer<AttestationPolicy>();
  if (policy) policies.set(policy);
  return { policies, phase: attestPhase({ policies, registry: defaultVerifierRegistry(), signer: EarSigner.generate(), injectRetry: { attempts: 1 } }) };
}
const bootstraps = () => guest.events.history.filter((e) => e.type === 'bootstrap').length;

describe('attest phase', () => {
  it('attests a never-attested guest by pushing the bootstrap config; names the trigger in the Event', async () => {
    const { phase } = setup(readyPolicy());
    const before = bootstraps();
    const r = await phase.reconcile(agent('a'), phaseContext({ instance }));
    expect(r.condition).toMatchObject({ status: 'True', reason: 'AcceptedByPolicy' });
    expect(r.status?.attestation).toMatchObject({ instanceId: 'i-1', teeType: 'sample', status: 'warning', policyGeneration: 1 });
    expect(r.status?.attestation?.nextAttestationAt).toBe(new Date(T0 + 3600_000).toISOString());
    expect(r.events?.[0]).toMatchObject({ type: 'Normal', reason: 'Attested' });
    expect(r.events?.[0]?.note).toMatch(/^NeverAttested: /);
    expect(r.facts?.guest).toMatchObject({ attestedBecause: 'NeverAttested', newInstance: true });
    expect(bootstraps()).toBe(before + 1);
    expect(guest.resources().has(BOOTSTRAP_RESOURCE)).toBe(true);
    // Due in an hour, but the instance is looked at again within the recheck interval (a reboot shows there).
    expect(r.requeueAfterMs).toBe(30_000);
    const quick = attestPhase({ policies: setup(readyPolicy()).policies, registry: defaultVerifierRegistry(), signer: EarSigner.generate(), instanceRecheckMs: 5_000 });
    expect((await quick.reconcile(agent('a'), phaseContext({ instance }))).requeueAfterMs).toBe(5_000);
  });

  it('rechecks on a wall-clock grid, so a fleet\'s describes fall on the same instants and share provider calls', () => {
    const grid = 600_000;
    const base = 1_800_000_000_000; // a multiple of 10 minutes
    // Agents reconciled at different moments are due at the same instant.
    for (const offset of [7_000, 123_456, 599_000]) expect(base + offset + untilRecheck(grid, base + offset)).toBe(base + grid);
    expect(untilRecheck(grid, base)).toBe(grid);
    // Within a second of the line: the next one, not an immediate requeue.
    expect(untilRecheck(grid, base + grid - 400)).toBe(grid + 400);
  });

  it('re-attests a rebooted guest (same instance id, later boot) and treats it as holding nothing', async () => {
    const { phase } = setup(readyPolicy());
    const booted = { ...instance, startedAt: '2026-01-01T00:00:00.000Z' };
    const first = await phase.reconcile(agent('a'), phaseContext({ instance: booted }));
    expect(first.status?.attestation?.instanceStartedAt).toBe('2026-01-01T00:00:00.000Z');
    const attested = agent('a', {}, { status: { attestation: first.status!.attestation!, conditions: [{ type: 'Attested', status: 'True', reason: 'AcceptedByPolicy', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }] } });
    expect((await phase.reconcile(attested, phaseContext({ instance: booted }))).facts?.guest?.attestedBecause).toBeUndefined();
    const before = bootstraps();
    const rebooted = await phase.reconcile(attested, phaseContext({ instance: { ...booted, startedAt: '2026-01-01T00:05:00.000Z' } }));
    expect(rebooted.facts?.guest).toMatchObject({ attestedBecause: 'InstanceRestarted', newInstance: true });
    expect(rebooted.events?.[0]?.note).toMatch(/^InstanceRestarted: instance i-1 rebooted/);
    expect(rebooted.status?.attestation?.instanceStartedAt).toBe('2026-01-01T00:05:00.000Z');
    expect(bootstraps()).toBe(before + 1);
    // A failed attempt in between (Attested=False: NeverAttested comes first) must not hide the reboot:
    // the guest still holds nothing, so earlier deliveries do not count.
    const failedMeanwhile = agent('a', {}, { status: { attestation: first.status!.attestation!, conditions: [{ type: 'Attested', status: 'False', reason: 'Transport', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }] } });
    const afterFailure = await phase.reconcile(failedMeanwhile, phaseContext({ instance: { ...booted, startedAt: '2026-01-01T00:05:00.000Z' } }));
    expect(afterFailure.facts?.guest).toMatchObject({ attestedBecause: 'NeverAttested', newInstance: true });
    // ... while a failed attempt on the same boot keeps them (the guest still holds what it got).
    expect((await phase.reconcile(failedMeanwhile, phaseContext({ instance: booted }))).facts?.guest).toMatchObject({ attestedBecause: 'NeverAttested', newInstance: false });
  });

  it('KBS mode: a credential rotated after the guest fetched it re-attests, so the guest fetches again', async () => {
    const policies = new MemoryInformer<AttestationPolicy>();
    policies.set(readyPolicy());
    const credentials = new MemoryInformer<SealedCredential>();
    const cred = (data: string): SealedCredential => ({ apiVersion: 'confidential-agent.io/v1alpha1', kind: 'SealedCredential', metadata: { name: 'c', namespace: NS }, spec: { encryptedData: data, resourcePath: 'default/r/c', scope: { mode: 'Strict', agents: ['a'] } } });
    credentials.set(cred('v1'));
    const phase = attestPhase({ policies, credentials, registry: defaultVerifierRegistry(), signer: EarSigner.generate(), injectRetry: { attempts: 1 } });
    const first = await phase.reconcile(agent('a', { delivery: { mode: 'KBS' } }), phaseContext({ instance }));
    const fetched = (data: string) => [{ name: 'c', resourcePath: 'default/r/c', mode: 'KBS' as const, digest: createHash('sha256').update(data).digest('hex'), deliveredAt: '2026-01-01T00:00:01Z' }];
    const status = (data: string) => ({ status: { attestation: first.status!.attestation!, credentials: fetched(data), conditions: [{ type: 'Attested', status: 'True' as const, reason: 'AcceptedByPolicy', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }] } });
    expect((await phase.reconcile(agent('a', { delivery: { mode: 'KBS' } }, status('v1')), phaseContext({ instance }))).facts?.guest?.attestedBecause).toBeUndefined();
    credentials.set(cred('v2'));
    const before = bootstraps();
    const r = await phase.reconcile(agent('a', { delivery: { mode: 'KBS' } }, status('v1')), phaseContext({ instance }));
    expect(r.facts?.guest).toMatchObject({ attestedBecause: 'CredentialRotated', newInstance: true });
    expect(bootstraps()).toBe(before + 1);
    // Challenge mode needs no re-attestation for it: the release phase pushes the new value itself.
    expect((await phase.reconcile(agent('a', {}, status('v1')), phaseContext({ instance }))).facts?.guest?.attestedBecause).toBeUndefined();
  });

  it('does not attest again while the last attestation holds (same instance, policy, values, interval)', async () => {
    const { phase } = setup(readyPolicy());
    const first = await phase.reconcile(agent('a'), phaseContext({ instance }));
    const attested = agent('a', {}, { status: { attestation: first.status!.attestation!, conditions: [{ type: 'Attested', status: 'True', reason: 'AcceptedByPolicy', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }] } });
    const before = bootstraps();
    const again = await phase.reconcile(attested, phaseContext({ instance }));
    expect(again.condition.status).toBe('True');
    expect(again.events).toEqual([]);
    expect(again.facts?.guest?.attestedBecause).toBeUndefined();
    expect(bootstraps()).toBe(before);
    // Re-attested on the same instance (policy changed): it still holds what was delivered.
    const policyEdited = setup(readyPolicy('dev', { allowSampleTee: true, minimumStatus: 'warning' }, 2));
    const reattested = await policyEdited.phase.reconcile(attested, phaseContext({ instance }));
    expect(reattested.facts?.guest).toMatchObject({ attestedBecause: 'PolicyChanged', newInstance: false });
  });

  it('refuses without a policy, and while the policy is not Ready for its current generation', async () => {
    expect((await setup().phase.reconcile(agent('a'), phaseContext({ instance }))).condition).toMatchObject({ status: 'False', reason: 'PolicyNotFound' });
    const stale = readyPolicy();
    stale.metadata.generation = 2; // edited, not yet re-validated
    expect((await setup(stale).phase.reconcile(agent('a'), phaseContext({ instance }))).condition).toMatchObject({ status: 'False', reason: 'PolicyNotReady' });
  });

  it('confirms the policy with the API server once the evidence passed: a cache still behind a revoked policy releases nothing', async () => {
    const cached = readyPolicy();
    const revoked = readyPolicy();
    revoked.status!.conditions = [{ type: 'Ready', status: 'False', reason: 'LogInconsistent', message: 'fork', lastTransitionTime: '2026-01-01T00:01:00Z', observedGeneration: 1 }];
    const edited = readyPolicy('dev', { allowSampleTee: true, minimumStatus: 'warning' }, 2);
    const otherValues = readyPolicy();
    otherValues.status!.referenceValues = [{ name: 'uki', digest: 'sha256:' + '00'.repeat(32) }];
    const cases: Array<[string, () => Promise<AttestationPolicy | undefined>, RegExp]> = [
      ['revoked', async () => revoked, /is not ready on the API server \(LogInconsistent\)/],
      ['deleted', async () => undefined, /no longer exists on the API server/],
      ['unreachable', async () => Promise.reject(new RuntimeError('API_ERROR', 'GET …: etcdserver: leader changed', { status: 503 })), /could not be read from the API server to confirm it \(HTTP 503\)/],
      ['edited', async () => edited, /changed on the API server .*generation 1 → 2, reference values unchanged/],
      ['new reference values', async () => otherValues, /generation 1 → 1, reference values changed/],
    ];
    for (const [what, read, message] of cases) {
      const policies = new MemoryInformer<AttestationPolicy>();
      policies.set(cached);
      const phase = attestPhase({ policies, registry: defaultVerifierRegistry(), signer: EarSigner.generate(), injectRetry: { attempts: 1 }, readPolicy: read });
      const before = bootstraps();
      const r = await phase.reconcile(agent('a'), phaseContext({ instance }));
      expect(r.condition, what).toMatchObject({ status: 'False', reason: 'PolicyUnconfirmed' });
      expect(r.condition.message, what).toMatch(message);
      expect(r.condition.message, what).not.toContain('etcdserver'); // the API server's words stay out of status
      expect(r.requeueAfterMs, what).toBe(2_000);
      expect(bootstraps(), `${what}: nothing was encrypted to the guest`).toBe(before);
    }
    // The same policy on both sides: attested, with one read for every push of the reconcile.
    let reads = 0;
    const policies = new MemoryInformer<AttestationPolicy>();
    policies.set(cached);
    const phase = attestPhase({ policies, registry: defaultVerifierRegistry(), signer: EarSigner.generate(), injectRetry: { attempts: 1 }, readPolicy: async (ns, name) => (reads++, expect([ns, name]).toEqual([NS, 'dev']), readyPolicy()) });
    const r = await phase.reconcile(agent('a'), phaseContext({ instance }));
    expect(r.condition).toMatchObject({ status: 'True' });
    expect((await r.facts!.guest!.push('default/cred/x', new TextEncoder().encode('v'))).ok).toBe(true);
    expect(reads).toBe(1);
  });

  it('reports the verifier code when the evidence is refused (sample TEE not allowed)', async () => {
    const { phase } = setup(readyPolicy('dev', { tdx: {} }));
    const r = await phase.reconcile(agent('a'), phaseContext({ instance }));
    expect(r.condition).toMatchObject({ status: 'False', reason: 'SampleTeeNotAllowed' });
    expect(r.events?.[0]).toMatchObject({ type: 'Warning', reason: 'AttestationFailed' });
    expect(r.facts).toBeUndefined();
  });
});

describe('re-attestation triggers', () => {
  const base: TriggerInput = {
    wasAttested: true,
    last: { instanceId: 'i-1', instanceStartedAt: '2026-01-01T00:00:00Z', teeType: 'sample', status: 'warning', verifiedAt: '2026-01-01T00:00:00Z', nextAttestationAt: '2026-01-01T01:00:00Z', policyGeneration: 1, trustDigest: 'd1' },
    instanceId: 'i-1',
    instanceStartedAt: '2026-01-01T00:00:00Z',
    policyGeneration: 1,
    trustDigest: 'd1',
    nowMs: T0,
  };
  it('none fires while the attestation holds', () => {
    expect(attestationDue(base)).toBeUndefined();
  });
  it.each([
    ['NeverAttested', { wasAttested: false }],
    ['InstanceChanged', { instanceId: 'i-2' }],
    ['InstanceRestarted', { instanceStartedAt: '2026-01-01T00:30:00Z' }],
    ['PolicyChanged', { policyGeneration: 2 }],
    ['TrustMaterialUpdated', { trustDigest: 'd2' }],
    ['CredentialRotated', { rotatedKbsCredentials: ['c'] }],
    ['IntervalElapsed', { nowMs: T0 + 3600_000 }],
  ] as const)('%s fires on its own input', (name, change) => {
    expect(attestationDue({ ...base, ...change })?.trigger).toBe(name);
  });
  it('a record without a trust digest (written before it existed) does not re-attest for it', () => {
    expect(attestationDue({ ...base, last: { ...base.last!, trustDigest: undefined } })).toBeUndefined();
  });
  it('a boot time known on one side only (a record or provider without it) does not re-attest', () => {
    expect(attestationDue({ ...base, last: { ...base.last!, instanceStartedAt: undefined } })).toBeUndefined();
    expect(attestationDue({ ...base, instanceStartedAt: undefined })).toBeUndefined();
  });
  it('lists the triggers in precedence order', () => {
    expect(TRIGGERS.map((t) => t.name)).toEqual(['NeverAttested', 'InstanceChanged', 'InstanceRestarted', 'PolicyChanged', 'TrustMaterialUpdated', 'CredentialRotated', 'IntervalElapsed']);
  });
});
