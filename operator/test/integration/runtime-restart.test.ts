// The API server is stopped and started again while a Manager runs: the informers must ride it out
// (retry with backoff, never exit), resume or relist, and the controller must reconcile every change
// made while it was disconnected — including a deletion, which only a relist diff or the resumed watch
// can reveal. The controller under test mirrors each ConfigMap `x` into `x-mirror`.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { isNotFound } from '../../src/runtime/errors.ts';
import { Informer } from '../../src/runtime/informer.ts';
import { Manager, type KubernetesObject, type ObjectKey, type ResourceRef } from '../../src/runtime/manager.ts';

const log = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const controlPlane = useControlPlane();
type ConfigMap = KubernetesObject & { data?: Record<string, string> };

function mirrorController(mgr: Manager, kc: KubeConfig, ns: string) {
  const ref: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, namespace: ns };
  const cms = mgr.informer<ConfigMap>(ref);
  const core = kc.makeApiClient(CoreV1Api);
  const reconciled: string[] = [];
  mgr.addController<ConfigMap>({
    name: 'mirror',
    for: cms,
    reconcile: async (key: ObjectKey) => {
      if (key.name.endsWith('-mirror')) return;
      reconciled.push(key.name);
      const namespace = key.namespace ?? ns;
      const mirror = `${key.name}-mirror`;
      const src = cms.get(key.namespace, key.name);
      if (!src) {
        await core.deleteNamespacedConfigMap({ namespace, name: mirror }).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
        return;
      }
      const existing = cms.get(key.namespace, mirror);
      const body = { metadata: { name: mirror, namespace }, data: src.data ?? {} };
      if (!existing) await core.createNamespacedConfigMap({ namespace, body });
      else if (JSON.stringify(existing.data ?? {}) !== JSON.stringify(src.data ?? {})) await core.replaceNamespacedConfigMap({ namespace, name: mirror, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion ?? '' } } });
    },
  });
  return { reconciled, cms };
}

async function mirrorData(core: CoreV1Api, ns: string, name: string): Promise<Record<string, string> | 'absent'> {
  try {
    return (await core.readNamespacedConfigMap({ namespace: ns, name: `${name}-mirror` })).data ?? {};
  } catch (e) {
    if (isNotFound(e)) return 'absent';
    throw e;
  }
}

describe('runtime: API server restart', () => {
  it('recovers without a restart and reconciles changes made while the API server was away', async () => {
    const cp = controlPlane();
    const kc = cp.kubeConfig();
    const ns = await createNamespace(kc, 'restart');
    const core = kc.makeApiClient(CoreV1Api);
    const mgr = new Manager({ kubeConfig: kc, logger: log, leaderElection: false, informerBackoff: { initialMs: 2_000, maxMs: 4_000 } });
    const { reconciled, cms } = mirrorController(mgr, kc, ns);
    await mgr.start();
    try {
      // A connected watch: the cache is confirmed (what the KBS's staleness bound reads, app/kbs-service.ts).
      await waitFor('the watch to connect', () => cms.unconfirmedForMs?.() === 0);
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'a' }, data: { v: '1' } } });
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'c' }, data: { v: '1' } } });
      await waitFor('mirrors of a and c', async () => (await mirrorData(core, ns, 'a')) !== 'absent' && (await mirrorData(core, ns, 'c')) !== 'absent');
      const statsKey = Object.keys(mgr.informerStats())[0] ?? '';
      const before = mgr.informerStats()[statsKey];

      await cp.stopApiServer();
      await waitFor('the informer to notice the outage', () => (mgr.informerStats()[statsKey]?.errors ?? 0) > (before?.errors ?? 0), { timeoutMs: 60_000 });
      // No watch: how long the cache has gone unconfirmed grows with the outage.
      const lost = cms.unconfirmedForMs?.() ?? 0;
      await new Promise((r) => setTimeout(r, 300));
      expect(cms.unconfirmedForMs?.()).toBeGreaterThanOrEqual(lost + 250);
      await cp.startApiServer();
      // Changes right after the restart, before the informer's backoff lets it reconnect.
      await core.replaceNamespacedConfigMap({ namespace: ns, name: 'a', body: { metadata: { name: 'a', namespace: ns }, data: { v: '2' } } });
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'b' }, data: { v: '1' } } });
      await core.deleteNamespacedConfigMap({ namespace: ns, name: 'c' });

      await waitFor('a-mirror updated, b-mirror created, c-mirror deleted', async () => {
        const [a, b, c] = await Promise.all([mirrorData(core, ns, 'a'), mirrorData(core, ns, 'b'), mirrorData(core, ns, 'c')]);
        return a !== 'absent' && a['v'] === '2' && b !== 'absent' && c === 'absent';
      }, { timeoutMs: 90_000 });

      // The watch is live again (not just one relist): a new change is picked up promptly.
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'd' }, data: { v: '1' } } });
      await waitFor('d-mirror', async () => (await mirrorData(core, ns, 'd')) !== 'absent', { timeoutMs: 20_000 });
      expect(cms.unconfirmedForMs?.()).toBe(0);

      const after = mgr.informerStats()[statsKey];
      expect(after?.errors).toBeGreaterThan(before?.errors ?? 0);
      expect(after?.watches).toBeGreaterThan(before?.watches ?? 0);
      // The restarted API server's watch cache starts at etcd's current revision (it writes its own
      // identity Lease on start), so resuming from the old resourceVersion gets 410 Gone → relist.
      expect(after?.gone).toBeGreaterThanOrEqual(1);
      expect(after?.lists).toBeGreaterThanOrEqual(2);
      expect(reconciled).toEqual(expect.arrayContaining(['a', 'b', 'c', 'd']));
      expect(mgr.isLeader()).toBe(true);
      log.info({ before, after }, 'informer stats across the restart');
    } finally {
      await mgr.stop();
    }
  });

  it('a frozen API server (SIGSTOP): the watchdog aborts the hung list, start() fails clearly after the sync timeout, and the informer recovers on SIGCONT', async () => {
    const cp = controlPlane();
    const kc = cp.kubeConfig();
    const ns = await createNamespace(kc, 'frozen');
    await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'x' } } });
    const pid = cp.pids().apiServer;
    if (pid === undefined) throw new Error('no kube-apiserver pid');
    const ref: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, namespace: ns };
    const inf = new Informer<ConfigMap>({ kubeConfig: kc, resource: ref, logger: log, watchdogMs: 1_500, backoff: { initialMs: 200, maxMs: 1_000 } });
    const mgr = new Manager({ kubeConfig: kc, logger: log, leaderElection: false, cacheSyncTimeoutMs: 2_000 });
    mgr.informer(ref);
    process.kill(pid, 'SIGSTOP');
    try {
      inf.start();
      const failed = await mgr.start().then(() => undefined, (e: unknown) => e);
      expect(failed).toMatchObject({ code: 'TIMEOUT' });
      expect(String((failed as Error).message)).toMatch(/did not sync within 2000 ms.*configmaps/);
      await waitFor('the watchdog to abort the hung list', () => inf.stats().watchdogAborts >= 1, { timeoutMs: 15_000 });
      expect(inf.hasSynced()).toBe(false);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    try {
      await inf.waitForSync(AbortSignal.timeout(30_000));
      expect(inf.get(ns, 'x')).toBeDefined();
      expect(inf.stats().lists).toBeGreaterThanOrEqual(2);
    } finally {
      await inf.stop();
    }
  });
});
