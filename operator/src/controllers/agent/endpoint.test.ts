// The endpoint phase against in-memory stores standing in for the API server (the real one:
// operator/test/integration/endpoint.test.ts; with the real TNG: endpoint-tng.test.ts).
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ConfidentialAgent } from '../../api/confidential-agent.ts';
import type { InstanceInfo } from '../../cloud/provider.ts';
import { parseTngConfig } from '../../protocol/tng-config.ts';
import type { KubeClients, KubernetesObject } from '../../runtime/manager.ts';
import { agent as agentFixture, NS, T0 } from '../../../test/support/agent-fixtures.ts';
import { ManualClock } from '../../../test/support/manual-clock.ts';
import { MemoryInformer } from '../../../test/support/memory-informer.ts';
import { CA_KEY, CONFIG_KEY, contains, endpointPhase } from './endpoint.ts';
import type { PhaseContext } from './phase.ts';

type Obj = KubernetesObject & { spec?: { replicas?: number }; data?: Record<string, string> };

function world(opts: { bundle?: () => string | undefined } = {}) {
  const stores = { ConfigMap: new MemoryInformer<Obj>(), Deployment: new MemoryInformer<Obj>(), Service: new MemoryInformer<Obj>() };
  const calls: string[] = [];
  const store = (o: Obj) => stores[o.kind as keyof typeof stores];
  const objects = {
    create: async (o: Obj) => (calls.push(`create ${o.kind}`), store(o).set(structuredClone(o))),
    patch: async (o: Obj) => (calls.push(`apply ${o.kind}`), store(o).set(structuredClone(o))),
    delete: async (o: Obj) => (calls.push(`delete ${o.kind}`), store(o).remove(o.metadata?.namespace ?? '', o.metadata?.name ?? '')),
  };
  const clients = { objects, fieldManager: 'test' } as unknown as KubeClients;
  const phase = endpointPhase({
    clients,
    gateways: { configMaps: stores.ConfigMap, deployments: stores.Deployment, services: stores.Service },
    attestationService: { url: 'https://as.ops.svc:8082', trustBundlePem: opts.bundle ?? (() => '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n') },
  });
  const instance: InstanceInfo = { id: 'i-1', state: 'Running', address: '10.0.0.7', ports: { 41000: 41000 } };
  const ctx = (inst: InstanceInfo | undefined = instance): PhaseContext => ({
    logger: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    clock: new ManualClock(T0),
    now: new Date(T0),
    facts: inst ? { instance: inst } : {},
  });
  const attested = (a: ConfidentialAgent, id = 'i-1', ok = true): ConfidentialAgent => ({
    ...a,
    status: {
      ...a.status,
      instance: { provider: 'local', id, state: 'Running' },
      attestation: { instanceId: id, teeType: 'sample', status: 'affirming', verifiedAt: T0.toString() },
      conditions: [{ type: 'Attested', status: ok ? 'True' : 'False', reason: ok ? 'Affirming' : 'PolicyDenied', message: 'm', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    },
  });
  return { stores, calls, phase, ctx, attested };
}

describe('endpoint phase', () => {
  it('renders and applies the three owned objects, then sends nothing while they match', async () => {
    const w = world();
    const a = w.attested(agentFixture('web'));
    const r = await w.phase.reconcile(a, w.ctx());
    expect(r.condition).toMatchObject({ status: 'True', reason: 'Serving' });
    expect(w.calls).toEqual(['create ConfigMap', 'apply ConfigMap', 'create Deployment', 'apply Deployment', 'create Service', 'apply Service']);
    const cm = w.stores.ConfigMap.get(NS, 'web-tng')!;
    const config = parseTngConfig(cm.data![CONFIG_KEY]!);
    expect(config.add_ingress![0]!.verify).toEqual({ as_addr: 'https://as.ops.svc:8082', policy_ids: [`${NS}/dev/web`], trusted_certs_paths: ['/etc/tng/as-ca.pem'] });
    expect(config.add_ingress![0]!.mapping.rules[0]!.out).toEqual({ host: '10.0.0.7', port: 41000 });
    expect(cm.data![CA_KEY]).toContain('BEGIN CERTIFICATE');
    expect(cm.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ConfidentialAgent', name: 'web', uid: 'uid-web', controller: true });
    expect(r.status?.endpoint).toMatchObject({ serviceName: `web.${NS}.svc`, port: 18789, policyId: `${NS}/dev/web`, instanceId: 'i-1' });
    expect(r.events?.[0]).toMatchObject({ reason: 'GatewayUpdated', note: expect.stringContaining('gateway created') });

    w.calls.length = 0;
    const again = await w.phase.reconcile({ ...a, status: { ...a.status, ...r.status } }, w.ctx());
    expect(w.calls).toEqual([]);
    expect(again.events).toEqual([]);
  });

  it('an instance launched without init-data (alibaba) is verified under the policy-scoped id, and the condition says identity is not bound', async () => {
    const w = world();
    const base = agentFixture('gpu');
    const a = w.attested({ ...base, spec: { ...base.spec, instance: { alibaba: { regionId: 'cn-beijing', instanceType: 'ecs.gn8v-tee.4xlarge' } } } } as ConfidentialAgent);
    const r = await w.phase.reconcile(a, w.ctx());
    const config = parseTngConfig(w.stores.ConfigMap.get(NS, 'gpu-tng')!.data![CONFIG_KEY]!);
    expect(config.add_ingress![0]!.verify?.policy_ids).toEqual([`${NS}/dev`]);
    expect(r.status?.endpoint?.policyId).toBe(`${NS}/dev`);
    expect(r.condition).toMatchObject({ status: 'True', reason: 'Serving', message: expect.stringContaining('instance identity not bound') });
    // The local provider's instance carries the agent's init-data: agent-scoped, no such caveat.
    const local = await world().phase.reconcile(w.attested(agentFixture('web')), w.ctx());
    expect(local.condition?.message).not.toContain('not bound');
  });

  it('a new instance re-renders the upstream and says so', async () => {
    const w = world();
    const a = w.attested(agentFixture('web'));
    const r1 = await w.phase.reconcile(a, w.ctx());
    const b = w.attested({ ...a, status: { ...a.status, ...r1.status } }, 'i-2');
    const r2 = await w.phase.reconcile(b, w.ctx({ id: 'i-2', state: 'Running', address: '10.0.0.9' }));
    expect(parseTngConfig(w.stores.ConfigMap.get(NS, 'web-tng')!.data![CONFIG_KEY]!).add_ingress![0]!.mapping.rules[0]!.out.host).toBe('10.0.0.9');
    expect(r2.events?.[0]?.note).toContain('instance i-1 → i-2');
  });

  it('revokes when blocked by a failed attestation: replicas 0 once, one Warning Event, Revoked', async () => {
    const w = world();
    const a = w.attested(agentFixture('web'));
    const r = await w.phase.reconcile(a, w.ctx());
    const failed = w.attested({ ...a, status: { ...a.status, ...r.status } }, 'i-1', false);
    w.calls.length = 0;
    const b = await w.phase.blocked!(failed, w.ctx(), { reason: 'NotAttested', message: 'EarStatusNotAffirming' });
    expect(b.condition).toMatchObject({ status: 'False', reason: 'Revoked' });
    expect(b.condition.message).toContain('NotAttested: EarStatusNotAffirming');
    expect(w.calls).toEqual(['apply Deployment']);
    expect(w.stores.Deployment.get(NS, 'web-gateway')?.spec?.replicas).toBe(0);
    expect(b.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'Revoked' })]);
    w.calls.length = 0;
    const again = await w.phase.blocked!({ ...failed, status: { ...failed.status, ...b.status } }, w.ctx(), { reason: 'NotAttested', message: 'x' });
    expect(w.calls).toEqual([]);
    expect(again.events).toEqual([]);
    // Attested again: the gateway is restored.
    const back = await w.phase.reconcile(w.attested({ ...failed, status: { ...failed.status, ...b.status } }), w.ctx());
    expect(back.condition.status).toBe('True');
    expect(w.stores.Deployment.get(NS, 'web-gateway')?.spec?.replicas).toBe(1);
    expect(back.events?.[0]?.note).toContain('gateway restored');
  });

  it('Keep leaves the gateway; blocked after attestation (credentials) leaves it too; nothing to revoke is just waiting', async () => {
    const w = world();
    const keep = w.attested(agentFixture('k', { endpoint: { onAttestationFailure: 'Keep' } }));
    const r = await w.phase.reconcile(keep, w.ctx());
    w.calls.length = 0;
    const kept = await w.phase.blocked!(w.attested({ ...keep, status: { ...keep.status, ...r.status } }, 'i-1', false), w.ctx(), { reason: 'NotAttested', message: 'm' });
    expect(kept.condition.reason).toBe('NotAttestedKept');
    const credentials = await w.phase.blocked!({ ...keep, status: { ...keep.status, ...r.status } }, w.ctx(), { reason: 'CredentialNotFound', message: 'm' });
    expect(credentials.condition).toMatchObject({ status: 'False', reason: 'CredentialNotFound' });
    const fresh = await w.phase.blocked!(agentFixture('new'), w.ctx(), { reason: 'WaitingForInstance', message: 'm' });
    expect(fresh.condition.reason).toBe('WaitingForInstance');
    expect(w.calls).toEqual([]);
  });

  it('disabled: deletes only the objects this agent controls', async () => {
    const w = world();
    const a = w.attested(agentFixture('web'));
    await w.phase.reconcile(a, w.ctx());
    w.stores.Service.set({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: NS, ownerReferences: [{ apiVersion: 'v1', kind: 'Thing', name: 'x', uid: 'other', controller: true }] } });
    w.calls.length = 0;
    const off = await w.phase.reconcile({ ...a, spec: { ...a.spec, endpoint: { ...a.spec.endpoint, enabled: false } } }, w.ctx());
    expect(off.condition).toMatchObject({ status: 'True', reason: 'EndpointDisabled' });
    expect(w.calls.sort()).toEqual(['delete ConfigMap', 'delete Deployment']);
    expect('endpoint' in (off.status ?? {})).toBe(true);
    expect(off.status?.endpoint).toBeUndefined();
  });

  it('never takes over an object another controller owns', async () => {
    const w = world();
    w.stores.Service.set({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: NS } });
    const r = await w.phase.reconcile(w.attested(agentFixture('web')), w.ctx());
    expect(r.condition).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    expect(r.condition.message).toContain(`Service ${NS}/web exists and is not controlled by this agent`);
    expect(w.calls.some((c) => c.endsWith('Service'))).toBe(false);
  });

  it('waits for the AS CA; refuses an address it cannot render', async () => {
    const w = world({ bundle: () => undefined });
    const r = await w.phase.reconcile(w.attested(agentFixture('web')), w.ctx());
    expect(r.condition).toMatchObject({ status: 'False', reason: 'AttestationServiceNotReady' });
    const v = world();
    const bad = await v.phase.reconcile(v.attested(agentFixture('web')), v.ctx({ id: 'i-1', state: 'Running', address: 'not a host' }));
    expect(bad.condition).toMatchObject({ status: 'False', reason: 'InvalidGatewayConfig' });
    expect(bad.condition.message).toMatch(/out\.host/);
    expect(v.calls).toEqual([]);
  });
});

describe('contains (desired ⊆ actual)', () => {
  it('ignores server defaults, sees changed or missing fields and array length', () => {
    expect(contains({ a: 1, b: { c: [1, { d: 2, e: 3 }] }, x: 'server' }, { a: 1, b: { c: [1, { d: 2 }] } })).toBe(true);
    expect(contains({ a: 1 }, { a: 2 })).toBe(false);
    expect(contains({ b: { c: [1] } }, { b: { c: [1, 2] } })).toBe(false);
    expect(contains({}, { a: { b: 1 } })).toBe(false);
  });
});
