// Lease leader election between Managers against a real API server: exactly one replica reconciles;
// a leader that dies without releasing is replaced within the lease duration plus a margin; a graceful
// stop hands over at once; a leader whose Lease is taken steps down, stops its workers and re-campaigns.
import { CoordinationV1Api, CoreV1Api, V1MicroTime, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { Manager, type KubernetesObject, type ResourceRef } from '../../src/runtime/manager.ts';
import { getJson } from '../../src/runtime/rest.ts';

const log = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const controlPlane = useControlPlane();
const LEASE = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 1_000 };

interface Replica {
  mgr: Manager;
  reconciled: string[];
  lost: number;
}

function replica(kc: KubeConfig, ns: string, identity: string, leaseName: string): Replica {
  const r: Replica = { mgr: undefined as unknown as Manager, reconciled: [], lost: 0 };
  r.mgr = new Manager({ kubeConfig: kc, logger: log.child({ replica: identity }), identity, leaderElection: { namespace: ns, name: leaseName, ...LEASE }, onLeadershipLost: () => r.lost++ });
  const ref: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, namespace: ns };
  r.mgr.addController<KubernetesObject>({
    name: 'le-test',
    for: r.mgr.informer<KubernetesObject>(ref),
    reconcile: async (key) => {
      r.reconciled.push(key.name);
    },
  });
  return r;
}

async function createCm(kc: KubeConfig, ns: string, name: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: ns, body: { metadata: { name } } });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runtime: leader election', () => {
  it('exactly one leader reconciles; a killed leader is replaced within the lease duration plus a margin', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'le');
    const a = replica(kc, ns, 'replica-a', 'le-test');
    const b = replica(kc, ns, 'replica-b', 'le-test');
    await Promise.all([a.mgr.start(), b.mgr.start()]);
    try {
      await waitFor('a leader', () => a.mgr.isLeader() || b.mgr.isLeader());
      await sleep(2 * LEASE.retryPeriodMs); // give the other replica every chance to (wrongly) lead too
      expect([a.mgr.isLeader(), b.mgr.isLeader()].filter(Boolean)).toHaveLength(1);
      const [leader, follower] = a.mgr.isLeader() ? [a, b] : [b, a];

      for (const n of ['one', 'two', 'three', 'four', 'five']) await createCm(kc, ns, n);
      await waitFor('the leader to reconcile all five', () => ['one', 'two', 'three', 'four', 'five'].every((n) => leader.reconciled.includes(n)));
      await sleep(1_000);
      expect(follower.reconciled).toEqual([]);

      const coord = kc.makeApiClient(CoordinationV1Api);
      const lease = await coord.readNamespacedLease({ namespace: ns, name: 'le-test' });
      expect(lease.spec?.holderIdentity).toBe(leader.mgr.identity);
      expect(lease.spec?.leaseDurationSeconds).toBe(4);
      expect(lease.spec?.leaseTransitions).toBe(0);
      // MicroTime on the wire: RFC 3339 with exactly six fractional digits
      const raw = (await getJson(kc, `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/le-test`, {}, AbortSignal.timeout(10_000))) as { spec: { renewTime: string; acquireTime: string } };
      expect(raw.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(raw.spec.acquireTime).toMatch(/\.\d{6}Z$/);
      expect(await leaderGauge(leader.mgr)).toBe(1);
      expect(await leaderGauge(follower.mgr)).toBe(0);

      // Kill the leader: it stops renewing and does not release (as if SIGKILLed).
      const killedAt = Date.now();
      await leader.mgr.stop({ releaseLease: false, gracePeriodMs: 500 });
      await waitFor('the follower to take over', () => follower.mgr.isLeader(), { timeoutMs: 20_000, intervalMs: 50 });
      const takeoverMs = Date.now() - killedAt;
      log.info({ takeoverMs }, 'failover time');
      // Not before the old lease could have expired, and within lease duration + two retry periods + 2 s.
      expect(takeoverMs).toBeGreaterThanOrEqual(LEASE.leaseDurationMs - 1.2 * LEASE.retryPeriodMs - 500);
      expect(takeoverMs).toBeLessThanOrEqual(LEASE.leaseDurationMs + 2 * LEASE.retryPeriodMs + 2_000);

      await createCm(kc, ns, 'after-failover');
      await waitFor('the new leader to reconcile', () => follower.reconciled.includes('after-failover'));
      expect(leader.reconciled).not.toContain('after-failover');
      const after = await coord.readNamespacedLease({ namespace: ns, name: 'le-test' });
      expect(after.spec?.holderIdentity).toBe(follower.mgr.identity);
      expect(after.spec?.leaseTransitions).toBe(1);
    } finally {
      await Promise.all([a.mgr.stop(), b.mgr.stop()]);
    }
  });

  it('a graceful stop releases the lease so the other replica takes over without waiting for expiry', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'le-release');
    const c = replica(kc, ns, 'replica-c', 'le-release');
    await c.mgr.start();
    await waitFor('c to lead', () => c.mgr.isLeader());
    const d = replica(kc, ns, 'replica-d', 'le-release');
    await d.mgr.start();
    try {
      await sleep(1_500);
      expect(d.mgr.isLeader()).toBe(false);
      const stoppedAt = Date.now();
      await c.mgr.stop();
      await waitFor('d to lead', () => d.mgr.isLeader(), { timeoutMs: 10_000, intervalMs: 50 });
      expect(Date.now() - stoppedAt).toBeLessThan(LEASE.leaseDurationMs - 1_000);
    } finally {
      await Promise.all([c.mgr.stop(), d.mgr.stop()]);
    }
  });

  it('a leader whose lease is taken steps down, stops reconciling, and re-campaigns after the lease expires', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'le-steal');
    const e = replica(kc, ns, 'replica-e', 'le-steal');
    await e.mgr.start();
    try {
      await waitFor('e to lead', () => e.mgr.isLeader());
      const coord = kc.makeApiClient(CoordinationV1Api);
      const lease = await coord.readNamespacedLease({ namespace: ns, name: 'le-steal' });
      const now = new V1MicroTime(Date.now());
      await coord.replaceNamespacedLease({
        namespace: ns,
        name: 'le-steal',
        body: { metadata: { name: 'le-steal', namespace: ns, resourceVersion: lease.metadata?.resourceVersion ?? '' }, spec: { holderIdentity: 'intruder', leaseDurationSeconds: 5, acquireTime: now, renewTime: now, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } },
      });
      await waitFor('e to step down', () => !e.mgr.isLeader(), { timeoutMs: 2 * LEASE.retryPeriodMs + 3_000, intervalMs: 50 });
      expect(e.lost).toBe(1);
      expect(await leaderGauge(e.mgr)).toBe(0);

      await createCm(kc, ns, 'while-intruder-leads');
      await sleep(1_500);
      expect(e.reconciled).not.toContain('while-intruder-leads');

      // The intruder never renews: after its 5 s lease expires, e wins again and catches up.
      await waitFor('e to lead again', () => e.mgr.isLeader(), { timeoutMs: 15_000 });
      await waitFor('e to reconcile what it missed', () => e.reconciled.includes('while-intruder-leads'));
      const back = await coord.readNamespacedLease({ namespace: ns, name: 'le-steal' });
      expect(back.spec?.holderIdentity).toBe('replica-e');
      expect(back.spec?.leaseTransitions).toBe(2);
    } finally {
      await e.mgr.stop();
    }
  });
});

async function leaderGauge(mgr: Manager): Promise<number> {
  const m = await mgr.metrics.getSingleMetricAsString('leader_election_master_status');
  const line = m.split('\n').find((l) => l.startsWith('leader_election_master_status{'));
  return Number(line?.split(' ').at(-1));
}
