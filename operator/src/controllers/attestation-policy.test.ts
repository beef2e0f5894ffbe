import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import { readyPolicy, NS, T0 } from '../../test/support/agent-fixtures.ts';
import { ManualClock } from '../../test/support/manual-clock.ts';
import { MemoryInformer } from '../../test/support/memory-informer.ts';
import { recordingClients, recordingEvents } from '../../test/support/recording-clients.ts';
import { policyReconciler, type ReferenceValueResolver } from './attestation-policy.ts';

const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

function setup(spec: Record<string, unknown>, resolve: ReferenceValueResolver = async () => ({ ok: true, values: [] })) {
  const policies = new MemoryInformer<AttestationPolicy>();
  const fresh = readyPolicy('p', spec);
  delete fresh.status;
  policies.set(fresh);
  const { clients, writes } = recordingClients({ attestationpolicies: policies as unknown as MemoryInformer });
  const events = recordingEvents();
  const clock = new ManualClock(T0);
  const reconcile = policyReconciler({ policies, clients, events: events.recorder, resolveReferenceValues: resolve });
  const run = () => reconcile({ namespace: NS, name: 'p' }, { logger: pino({ level: 'silent' }), signal: new AbortController().signal, clock });
  const cond = (type: string) => policies.get(NS, 'p')?.status?.conditions?.find((c) => c.type === type);
  return { run, cond, writes, events, clock, policies };
}

describe('AttestationPolicy reconciler', () => {
  it('a valid policy becomes Ready for its generation; a second identical reconcile writes nothing', async () => {
    const w = setup({ allowSampleTee: true, minimumStatus: 'warning' });
    await w.run();
    expect(w.cond('Ready')).toMatchObject({ status: 'True', reason: 'PolicyReady' });
    expect(w.policies.get(NS, 'p')?.status?.observedGeneration).toBe(1);
    expect(w.writes).toHaveLength(1);
    w.clock.advance(60_000);
    await w.run();
    expect(w.writes).toHaveLength(1);
  });

  it('warns once (Event) that the sample TEE is accepted', async () => {
    const w = setup({ allowSampleTee: true, minimumStatus: 'warning' });
    await w.run();
    await w.run();
    expect(w.cond('SampleTeeAllowed')?.status).toBe('True');
    expect(w.events.emitted.filter((e) => e.reason === 'SampleTeeAllowed')).toHaveLength(1);
  });

  it('flags sample.trustAsAffirming with DevelopmentOnly=True (one Warning Event), and False once it is removed', async () => {
    const w = setup({ allowSampleTee: true, sample: { trustAsAffirming: true } });
    await w.run();
    await w.run();
    expect(w.cond('DevelopmentOnly')).toMatchObject({ status: 'True', reason: 'SampleTrustedAsAffirming' });
    expect(w.events.emitted.filter((e) => e.reason === 'DevelopmentOnly')).toHaveLength(1);
    const p = w.policies.get(NS, 'p')!;
    w.policies.set({ ...p, metadata: { ...p.metadata, generation: 2 }, spec: { ...p.spec, sample: { trustAsAffirming: false } } });
    await w.run();
    expect(w.cond('DevelopmentOnly')).toMatchObject({ status: 'False', reason: 'NoDevelopmentSettings' });
    const plain = setup({ allowSampleTee: true, minimumStatus: 'warning' });
    await plain.run();
    expect(plain.cond('DevelopmentOnly')).toBeUndefined();
  });

  it('refuses a non-P-256 signing key and a policy no evidence could satisfy, naming the field', async () => {
    const badKey = setup({ tdx: { referenceValues: { bundle: { configMapRef: { name: 'b', key: 'k' }, publicKey: rsa, artifactId: 'cai-openclaw-vllm', allowedVersions: ['1.0.0'] } } } });
    await badKey.run();
    expect(badKey.cond('Ready')).toMatchObject({ status: 'False', reason: 'InvalidPublicKey' });
    expect(badKey.cond('Ready')?.message).toContain('spec.tdx.referenceValues.bundle.publicKey');
    const none = setup({ minimumStatus: 'warning' });
    await none.run();
    expect(none.cond('Ready')).toMatchObject({ status: 'False', reason: 'NoTeeAccepted' });
  });

  it('publishes resolved reference values, and clears them (Ready=False, Event) when they can no longer be verified', async () => {
    let ok = true;
    const w = setup({ tdx: { referenceValues: { bundle: { configMapRef: { name: 'b', key: 'k' }, publicKey: p256, artifactId: 'cai-openclaw-vllm', allowedVersions: ['1.0.0'] } } } }, async () =>
      ok ? { ok: true, values: [{ name: 'mr_td', values: ['aa'.repeat(48)] }] as never } : { ok: false, code: 'CheckpointForked', message: 'the log forked' },
    );
    await w.run();
    expect(w.cond('ReferenceValuesResolved')).toMatchObject({ status: 'True', reason: 'Resolved' });
    expect(w.policies.get(NS, 'p')?.status?.referenceValues).toHaveLength(1);
    ok = false;
    await w.run();
    expect(w.cond('Ready')).toMatchObject({ status: 'False', reason: 'CheckpointForked' });
    expect(w.policies.get(NS, 'p')?.status?.referenceValues).toBeUndefined();
    expect(w.events.emitted.some((e) => e.type === 'Warning' && e.reason === 'CheckpointForked')).toBe(true);
  });
});
