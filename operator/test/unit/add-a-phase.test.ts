// The agent controller derives everything from its phase list: adding a phase is one file
// (fixtures/endpoint-phase.ts) plus one list entry. Runs the real provision/attest/release phases against
// a fake InstanceProvider and a real simulated guest (sample TEE), with in-memory informers.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttestationPolicy } from '../../src/api/attestation-policy.ts';
import type { ConfidentialAgent } from '../../src/api/confidential-agent.ts';
import type { SealedCredential } from '../../src/api/sealed-credential.ts';
import { EarSigner } from '../../src/attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../../src/attestation/registry.ts';
import { agentReconciler } from '../../src/controllers/agent/controller.ts';
import { agentLifecycle } from '../../src/controllers/agent/lifecycle.ts';
import type { Phase } from '../../src/controllers/agent/phase.ts';
import { createKeyring } from '../../src/release/sealing/keyring.ts';
import { startSimulatedGuest, type SimulatedGuest } from '../../src/sim/guest/guest.ts';
import { agent, NS, readyPolicy, sealedCredential, T0 } from '../support/agent-fixtures.ts';
import { memoryConfigMaps } from '../support/config-maps.ts';
import { FakeInstanceProvider } from '../support/fake-provider.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { MemoryInformer } from '../support/memory-informer.ts';
import { recordingClients, recordingEvents } from '../support/recording-clients.ts';
import { endpointPhase } from './fixtures/endpoint-phase.ts';

let guest: SimulatedGuest;
beforeAll(async () => {
  guest = await startSimulatedGuest({ host: '127.0.0.1', manifest: [] });
});
afterAll(() => guest.close());

async function world(extra: (base: Phase[]) => Phase[]) {
  const agents = new MemoryInformer<ConfidentialAgent>();
  const policies = new MemoryInformer<AttestationPolicy>();
  const credentials = new MemoryInformer<SealedCredential>();
  const keyring = await createKeyring(new Date());
  policies.set(readyPolicy());
  credentials.set(sealedCredential(keyring, 'cred', 'default/local-resources/token', 'unit-secret-77', ['a']));
  const provider = new FakeInstanceProvider();
  provider.ports = { 8006: guest.apiPort };
  const { clients, writes } = recordingClients({ confidentialagents: agents as unknown as MemoryInformer });
  const events = recordingEvents();
  const base = agentLifecycle({
    providers: { local: provider },
    clusterId: 'c1',
    manifestOf: () => [],
    policies,
    credentials,
    keyring: () => keyring,
    registry: defaultVerifierRegistry(),
    signer: EarSigner.generate(),
    injectRetry: { attempts: 1 },
    configMaps: memoryConfigMaps(),
  });
  const phases = extra(base);
  const reconcile = agentReconciler({ agents, clients, events: events.recorder, phases });
  const clock = new ManualClock(T0);
  const ctx = { logger: pino({ level: 'silent' }), signal: new AbortController().signal, clock };
  agents.set(agent('a', { credentials: [{ name: 'cred' }] }));
  const run = () => reconcile({ namespace: NS, name: 'a' }, ctx);
  const get = () => agents.get(NS, 'a')!;
  const cond = (type: string) => get().status?.conditions?.find((c) => c.type === type);
  return { run, get, cond, writes, events, provider, phases };
}

describe('adding a phase: one file plus one list entry', () => {
  it('the new condition is seeded Unknown, Ready waits for it, and its requeue and Events take effect', async () => {
    const endpoint = { ready: false, requeueAfterMs: 1234 };
    const w = await world((base) => [...base, endpointPhase(endpoint)]);
    const r = await w.run();
    expect(w.cond('Provisioned')?.status).toBe('True');
    expect(w.cond('Attested')?.status).toBe('True');
    expect(w.cond('CredentialsReleased')?.status).toBe('True');
    expect(w.cond('EndpointReady')).toMatchObject({ status: 'False', reason: 'EndpointPending' });
    expect(w.cond('Ready')).toMatchObject({ status: 'False', reason: 'EndpointPending' });
    expect(r).toEqual({ requeueAfterMs: 1234 });
    expect(w.events.emitted.some((e) => e.reason === 'EndpointPending')).toBe(true);

    endpoint.ready = true;
    await w.run();
    expect(w.cond('EndpointReady')).toMatchObject({ status: 'True', reason: 'Serving' });
    expect(w.cond('Ready')).toMatchObject({ status: 'True', reason: 'AgentReady' });
    expect(w.cond('Ready')?.message).toContain('EndpointReady');
  });

  it('a phase placed before release makes release wait with that phase\'s reason (cascade)', async () => {
    const w = await world((base) => [...base.filter((p) => p.name !== 'release'), endpointPhase({ ready: false }), ...base.filter((p) => p.name === 'release')]);
    await w.run();
    expect(w.cond('EndpointReady')?.status).toBe('False');
    expect(w.cond('CredentialsReleased')).toMatchObject({ status: 'False', reason: 'WaitingForEndpoint' });
    expect(w.get().status?.credentials ?? []).toEqual([]);
  });

  it('seeds every condition of the list as Unknown before any phase has run to completion', async () => {
    const w = await world((base) => [...base, endpointPhase({ ready: false })]);
    w.provider.initialState = 'Starting';
    await w.run();
    expect(w.get().status?.conditions?.map((c) => c.type).sort()).toEqual(['Attested', 'CredentialsReleased', 'EndpointReady', 'Provisioned', 'Ready', 'SandboxPolicyReady']);
    expect(w.cond('EndpointReady')).toMatchObject({ status: 'False', reason: 'WaitingForInstance' });
  });

  it('a second identical reconcile writes nothing', async () => {
    const w = await world((base) => base);
    await w.run();
    expect(w.cond('Ready')?.status).toBe('True');
    const writes = w.writes.length;
    await w.run();
    expect(w.writes.length).toBe(writes);
  });
});
