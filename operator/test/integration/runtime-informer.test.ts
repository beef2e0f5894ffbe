// The controller runtime against a real kube-apiserver: informer events and cache, resync, the
// status/finalizer/event helpers (including their concurrency preconditions), and a Manager's
// /metrics, /healthz and /readyz after real reconciles. Test objects are ConfigMaps and a tiny test CRD,
// so nothing here depends on the operator's own reconcilers.
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, EventsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { setCondition } from '../../src/runtime/conditions.ts';
import { RuntimeError } from '../../src/runtime/errors.ts';
import { EventsV1Recorder } from '../../src/runtime/events.ts';
import { addFinalizer, removeFinalizer } from '../../src/runtime/finalizers.ts';
import { Informer } from '../../src/runtime/informer.ts';
import { Manager, type KubernetesObject, type ResourceRef } from '../../src/runtime/manager.ts';
import { makeClients } from '../../src/runtime/clients.ts';
import { patchStatus } from '../../src/runtime/status.ts';

const log = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const controlPlane = useControlPlane();

const configMaps = (namespace: string): ResourceRef => ({ group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, namespace });
const WIDGETS: ResourceRef = { group: 'runtime-test.example.com', version: 'v1', plural: 'widgets', kind: 'Widget', namespaced: true };
type ConfigMap = KubernetesObject & { data?: Record<string, string> };
type Widget = KubernetesObject & { spec?: { size?: number }; status?: { phase?: string; observedGeneration?: number; conditions?: unknown[] } };

async function installWidgetCrd(kc: KubeConfig): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  await api.createCustomResourceDefinition({
    body: {
      metadata: { name: 'widgets.runtime-test.example.com' },
      spec: {
        group: WIDGETS.group,
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } }, status: { type: 'object', x_kubernetes_preserve_unknown_fields: true } /* client-node's field name */ } } },
          },
        ],
      },
    },
  });
  const custom = kc.makeApiClient(CustomObjectsApi);
  await waitFor('the Widget CRD to be served', async () => {
    await custom.listClusterCustomObject({ group: WIDGETS.group, version: 'v1', plural: 'widgets' });
    return true;
  });
}

describe('runtime against a real API server', () => {
  it('informer: lists, then delivers add/update(with old)/delete and keeps its cache in step', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'inf');
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'pre' }, data: { v: '0' } } });

    const inf = new Informer<ConfigMap>({ kubeConfig: kc, resource: configMaps(ns), logger: log });
    const seen: string[] = [];
    inf.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    inf.on('update', (o, old) => seen.push(`update ${o.metadata?.name} ${old?.data?.['v']}->${o.data?.['v']}`));
    inf.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    inf.start();
    try {
      await inf.waitForSync();
      expect(inf.hasSynced()).toBe(true);
      expect(inf.get(ns, 'pre')?.data).toEqual({ v: '0' });
      expect(seen).toEqual(['add pre']);

      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'a' }, data: { v: '1' } } });
      await waitFor('add a', () => inf.get(ns, 'a'));
      await core.patchNamespacedConfigMap({ namespace: ns, name: 'a', body: [{ op: 'replace', path: '/data/v', value: '2' }] });
      await waitFor('update a', () => inf.get(ns, 'a')?.data?.['v'] === '2');
      await core.deleteNamespacedConfigMap({ namespace: ns, name: 'pre' });
      await waitFor('delete pre', () => inf.get(ns, 'pre') === undefined);

      expect(seen).toEqual(['add pre', 'add a', 'update a 1->2', 'delete pre']);
      expect(inf.list(ns).map((o) => o.metadata?.name)).toEqual(['a']);
      expect(inf.list('other-namespace')).toEqual([]);
      // wire JSON, not client-node classes: timestamps stay strings
      expect(typeof inf.get(ns, 'a')?.metadata?.creationTimestamp).toBe('string');
      const stats = inf.stats();
      expect(stats.lists).toBe(1);
      expect(stats.errors).toBe(0);
      expect(Number(stats.resourceVersion)).toBeGreaterThan(0);
    } finally {
      await inf.stop();
    }
    expect(inf.isRunning()).toBe(false);
  });

  it('informers sharing one KubeConfig (and its cached HTTPS agent) start concurrently without errors', async () => {
    const kc = controlPlane().kubeConfig();
    const namespaces = await Promise.all([1, 2, 3].map(() => createNamespace(kc, 'shared')));
    const informers = namespaces.map((ns) => new Informer<ConfigMap>({ kubeConfig: kc, resource: configMaps(ns), logger: log }));
    for (const inf of informers) inf.start();
    try {
      await Promise.all(informers.map((inf) => inf.waitForSync(AbortSignal.timeout(20_000))));
      expect(informers.map((inf) => inf.stats().errors)).toEqual([0, 0, 0]);
    } finally {
      await Promise.all(informers.map((inf) => inf.stop()));
    }
  });

  it('manager informers honour label selectors (list and watch)', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'sel');
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'in-1', labels: { pick: 'yes' } } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'out-1' } } });
    const mgr = new Manager({ kubeConfig: kc, logger: log, leaderElection: false });
    const picked = mgr.informer<ConfigMap>({ ...configMaps(ns), labelSelector: 'pick=yes' });
    const all = mgr.informer<ConfigMap>(configMaps(ns));
    expect(picked).not.toBe(all);
    await mgr.start();
    try {
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'in-2', labels: { pick: 'yes' } } } });
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'out-2' } } });
      await waitFor('all four in the unfiltered informer', () => all.list().length === 4);
      expect(picked.list().map((o) => o.metadata?.name).sort()).toEqual(['in-1', 'in-2']);
      expect(picked.list()[0]?.kind).toBe('ConfigMap'); // filled in on list items
    } finally {
      await mgr.stop();
    }
  });

  it('informer: periodic resync re-delivers cached objects as updates with old === new', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'resync');
    await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'r' } } });
    const inf = new Informer<ConfigMap>({ kubeConfig: kc, resource: configMaps(ns), logger: log, resyncPeriodMs: 300 });
    let resyncs = 0;
    inf.on('update', (o, old) => {
      if (o === old && o.metadata?.name === 'r') resyncs++;
    });
    inf.start();
    try {
      await waitFor('two resyncs', () => resyncs >= 2, { timeoutMs: 10_000 });
    } finally {
      await inf.stop();
    }
  });

  it('finalizers: add/remove with a resourceVersion precondition; a stale object gets CONFLICT and changes nothing', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'fin');
    const core = kc.makeApiClient(CoreV1Api);
    const clients = makeClients(kc, 'runtime-test');
    const created = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'f', finalizers: ['other.example.com/keep'] } } });
    const cm = JSON.parse(JSON.stringify(created)) as ConfigMap & { metadata: { name: string } };
    const ref = configMaps(ns);

    const withFin = await addFinalizer(clients, ref, cm, 'runtime-test.example.com/cleanup');
    expect(withFin.metadata.finalizers).toEqual(['other.example.com/keep', 'runtime-test.example.com/cleanup']);
    expect(await addFinalizer(clients, ref, withFin, 'runtime-test.example.com/cleanup')).toBe(withFin); // no-op

    // `cm` is now stale (older resourceVersion): writing from it must fail, not clobber the list
    const err = await addFinalizer(clients, ref, cm, 'runtime-test.example.com/second').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('CONFLICT');
    expect((await core.readNamespacedConfigMap({ namespace: ns, name: 'f' })).metadata?.finalizers).toEqual(['other.example.com/keep', 'runtime-test.example.com/cleanup']);

    await removeFinalizer(clients, ref, withFin, 'runtime-test.example.com/cleanup');
    expect((await core.readNamespacedConfigMap({ namespace: ns, name: 'f' })).metadata?.finalizers).toEqual(['other.example.com/keep']);

    // a custom resource goes through CustomObjectsApi with the same precondition
    await installWidgetCrd(kc);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const w = (await custom.createNamespacedCustomObject({ group: WIDGETS.group, version: 'v1', namespace: ns, plural: 'widgets', body: { apiVersion: `${WIDGETS.group}/v1`, kind: 'Widget', metadata: { name: 'w' }, spec: { size: 1 } } })) as Widget & { metadata: { name: string } };
    const wf = await addFinalizer(clients, WIDGETS, w, 'runtime-test.example.com/cleanup');
    expect(wf.metadata.finalizers).toEqual(['runtime-test.example.com/cleanup']);
    expect(typeof wf.metadata.creationTimestamp).toBe('string');
    await custom.deleteNamespacedCustomObject({ group: WIDGETS.group, version: 'v1', namespace: ns, plural: 'widgets', name: 'w' });
    const deleting = (await custom.getNamespacedCustomObject({ group: WIDGETS.group, version: 'v1', namespace: ns, plural: 'widgets', name: 'w' })) as Widget & { metadata: { name: string } };
    expect(deleting.metadata.deletionTimestamp).toBeTruthy();
    await expect(addFinalizer(clients, WIDGETS, deleting, 'runtime-test.example.com/late')).rejects.toThrow(/being deleted/);
    await removeFinalizer(clients, WIDGETS, deleting, 'runtime-test.example.com/cleanup');
    await waitFor('the widget to be gone', async () => {
      try {
        await custom.getNamespacedCustomObject({ group: WIDGETS.group, version: 'v1', namespace: ns, plural: 'widgets', name: 'w' });
        return false;
      } catch {
        return true;
      }
    });
    await removeFinalizer(clients, WIDGETS, deleting, 'runtime-test.example.com/cleanup'); // object gone: no-op
  });

  it('patchStatus: merge patch on /status with observedGeneration; dropped fields deleted; spec untouched', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'status');
    await waitFor('the Widget CRD', async () => {
      await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: WIDGETS.group, version: 'v1', plural: 'widgets' });
      return true;
    }).catch(() => installWidgetCrd(kc));
    const custom = kc.makeApiClient(CustomObjectsApi);
    const clients = makeClients(kc, 'runtime-test');
    const w = (await custom.createNamespacedCustomObject({ group: WIDGETS.group, version: 'v1', namespace: ns, plural: 'widgets', body: { apiVersion: `${WIDGETS.group}/v1`, kind: 'Widget', metadata: { name: 's' }, spec: { size: 3 } } })) as Widget & { metadata: { name: string } };
    const conditions = setCondition(undefined, { type: 'Ready', status: 'Unknown', reason: 'Reconciling', message: 'first visit' }, w.metadata.generation, new Date());
    await patchStatus(clients, WIDGETS, w, { phase: 'Pending', conditions });
    const got = (await custom.getNamespacedCustomObject({ group: WIDGETS.group, version: 'v1', namespace: ns, plural: 'widgets', name: 's' })) as Widget;
    expect(got.status).toMatchObject({ phase: 'Pending', observedGeneration: 1, conditions: [{ type: 'Ready', status: 'Unknown', reason: 'Reconciling' }] });
    expect(got.spec).toEqual({ size: 3 });
    // the status becomes exactly what was passed: a field the caller dropped (phase) is deleted
    await patchStatus(clients, WIDGETS, got as Widget & { metadata: { name: string } }, { message: 'x' });
    const again = (await custom.getNamespacedCustomObject({ group: WIDGETS.group, version: 'v1', namespace: ns, plural: 'widgets', name: 's' })) as Widget;
    expect(again.status).toEqual({ message: 'x', observedGeneration: 1 });
    await expect(patchStatus(clients, WIDGETS, { metadata: { name: 'missing', namespace: ns } }, { phase: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(patchStatus(clients, configMaps(ns), got as Widget & { metadata: { name: string } }, {})).rejects.toThrow(/only custom resources/);
  });

  it('events: events.k8s.io/v1 Events with reporting fields; repeats fold into one series', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'events');
    const cm = await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'e' } } });
    const rec = new EventsV1Recorder({ api: kc.makeApiClient(EventsV1Api), reportingController: 'runtime-test.example.com/ctl', reportingInstance: 'test-instance', logger: log });
    const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'e', namespace: ns, uid: cm.metadata?.uid ?? '' } };
    rec.emit(obj, 'Warning', 'Broken', 'Check', 'it is broken');
    rec.emit(obj, 'Warning', 'Broken', 'Check', 'it is broken');
    rec.emit(obj, 'Warning', 'Broken', 'Check', 'it is broken');
    rec.emit(obj, 'Normal', 'Fixed', 'Repair', 'fixed now');
    await rec.flush();
    const list = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
    const byReason = Object.fromEntries(list.items.map((e) => [e.reason, e]));
    expect(list.items).toHaveLength(2);
    expect(byReason['Broken']).toMatchObject({ type: 'Warning', action: 'Check', note: 'it is broken', reportingController: 'runtime-test.example.com/ctl', reportingInstance: 'test-instance', regarding: { kind: 'ConfigMap', name: 'e', namespace: ns, uid: cm.metadata?.uid } });
    expect(byReason['Broken']?.series?.count).toBe(3);
    expect(byReason['Fixed']?.series).toBeUndefined();

    // a burst of distinct events goes through the bounded writer (4 in flight) without loss
    for (let i = 0; i < 20; i++) rec.emit(obj, 'Normal', `Burst${i}`, 'Burst', `event ${i}`);
    await rec.flush();
    expect((await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items).toHaveLength(22);
  });

  it('manager: reconciles ConfigMaps; /metrics exposes controller-runtime names with real values; /healthz and /readyz', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'metrics');
    const core = kc.makeApiClient(CoreV1Api);
    const mgr = new Manager({ kubeConfig: kc, logger: log, httpPort: 0, httpHost: '127.0.0.1', leaderElection: { namespace: ns, name: 'metrics-test', leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 1000 } });
    const cms = mgr.informer<ConfigMap>(configMaps(ns));
    const attempts = new Map<string, number>();
    mgr.addController<ConfigMap>({
      name: 'cm-test',
      for: cms,
      workers: 3,
      reconcile: async (key) => {
        const n = (attempts.get(key.name) ?? 0) + 1;
        attempts.set(key.name, n);
        if (key.name === 'flaky' && n === 1) throw new Error('first attempt fails');
        if (key.name === 'slow') return n === 1 ? { requeueAfterMs: 50 } : undefined;
        return undefined;
      },
    });
    await mgr.start();
    const { port } = await mgr.httpAddress;
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, text: await res.text() };
    };
    try {
      for (const name of ['ok', 'flaky', 'slow']) await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name } } });
      await waitFor('reconciles', () => (attempts.get('flaky') ?? 0) >= 2 && (attempts.get('slow') ?? 0) >= 2 && (attempts.get('ok') ?? 0) >= 1, { timeoutMs: 20_000 });
      expect(mgr.isLeader()).toBe(true);

      const m = (await get('/metrics')).text;
      const value = (series: string) => {
        const line = m.split('\n').find((l) => l.startsWith(series + ' '));
        if (!line) throw new Error(`no series ${series} in /metrics`);
        return Number(line.slice(series.length + 1));
      };
      expect(value('controller_runtime_reconcile_total{controller="cm-test",result="success"}')).toBeGreaterThanOrEqual(3);
      expect(value('controller_runtime_reconcile_total{controller="cm-test",result="error"}')).toBe(1);
      expect(value('controller_runtime_reconcile_total{controller="cm-test",result="requeue_after"}')).toBe(1);
      expect(value('controller_runtime_reconcile_total{controller="cm-test",result="requeue"}')).toBe(0);
      expect(value('controller_runtime_reconcile_errors_total{controller="cm-test"}')).toBe(1);
      expect(value('controller_runtime_reconcile_time_seconds_count{controller="cm-test"}')).toBeGreaterThanOrEqual(5);
      expect(value('controller_runtime_max_concurrent_reconciles{controller="cm-test"}')).toBe(3);
      expect(value('controller_runtime_active_workers{controller="cm-test"}')).toBe(0);
      expect(value('workqueue_adds_total{name="cm-test",controller="cm-test"}')).toBeGreaterThanOrEqual(5);
      expect(value('workqueue_retries_total{name="cm-test",controller="cm-test"}')).toBe(1);
      expect(value('workqueue_depth{name="cm-test",controller="cm-test"}')).toBe(0);
      expect(value('workqueue_queue_duration_seconds_count{name="cm-test",controller="cm-test"}')).toBeGreaterThanOrEqual(5);
      expect(value('workqueue_work_duration_seconds_count{name="cm-test",controller="cm-test"}')).toBeGreaterThanOrEqual(5);
      expect(value('leader_election_master_status{name="metrics-test"}')).toBe(1);

      expect(await get('/healthz')).toEqual({ status: 200, text: 'ok' });
      expect(await get('/readyz')).toEqual({ status: 200, text: 'ok' });
      expect((await get('/readyz?verbose')).text).toMatch(/\[\+\]informers-synced ok/);
      expect((await get('/nope')).status).toBe(404);
    } finally {
      await mgr.stop();
    }
    expect(mgr.isLeader()).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
