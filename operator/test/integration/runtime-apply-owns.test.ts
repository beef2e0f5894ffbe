// Runtime additions against the real kube-apiserver: server-side apply with the operator's field manager
// and a controller owner reference; `owns()` watches that re-queue the owner when an owned object
// changes; status patches that send nothing when nothing changed (counted by the API server itself);
// and the operator's second identical reconcile sending no status PATCH.
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { AGENTS } from '../../src/controllers/resources.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { localGuests } from '../../src/sim/local/guest-launcher.ts';
import { apply, controllerReference, withControllerReference } from '../../src/runtime/apply.ts';
import { makeClients } from '../../src/runtime/clients.ts';
import { Manager, type KubernetesObject, type ObjectKey, type ResourceRef } from '../../src/runtime/manager.ts';
import { patchStatus } from '../../src/runtime/status.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { apiServerRequests } from '../support/apiserver-metrics.ts';
import { conditionOf, createCustom, customObjects, getAgent, localAgent, samplePolicy, startTestOperator } from '../support/operator.ts';

const log = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const controlPlane = useControlPlane();
type ConfigMap = KubernetesObject & { data?: Record<string, string> };
const configMaps = (namespace: string): ResourceRef => ({ group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, namespace });
const statusPatches = () => apiServerRequests(controlPlane().kubeConfig(), { verb: 'PATCH', resource: 'confidentialagents', subresource: 'status' });

describe('runtime: apply, owner references, owns() and no-op status patches (real API server)', () => {
  it('apply creates with a controller owner reference and the field manager; an identical apply changes nothing', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'apply');
    const core = kc.makeApiClient(CoreV1Api);
    const owner = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' } } });
    const clients = makeClients(kc, 'cai-test-manager');
    const desired = withControllerReference<ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owned', namespace: ns }, data: { k: 'v' } }, { apiVersion: 'v1', kind: 'ConfigMap', metadata: owner.metadata as KubernetesObject['metadata'] });
    const created = await apply(clients, desired);
    expect(created.metadata?.ownerReferences).toEqual([controllerReference({ apiVersion: 'v1', kind: 'ConfigMap', metadata: owner.metadata as KubernetesObject['metadata'] })]);
    const read = await core.readNamespacedConfigMap({ namespace: ns, name: 'owned' });
    expect(read.metadata?.managedFields?.some((m) => m.manager === 'cai-test-manager' && m.operation === 'Apply')).toBe(true);
    const again = await apply(clients, desired);
    expect(again.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    // Another writer changed a field we own: apply (force) takes it back.
    await core.patchNamespacedConfigMap({ namespace: ns, name: 'owned', body: { data: { k: 'tampered' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect((await apply(clients, desired)).data).toEqual({ k: 'v' });
  });

  it('apply refuses an object without apiVersion/kind/name, naming what is missing', async () => {
    const clients = makeClients(controlPlane().kubeConfig());
    await expect(apply(clients, { kind: 'ConfigMap', metadata: { name: 'x' } })).rejects.toThrow(/apiVersion, kind and metadata.name are required/);
    expect(() => controllerReference({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'no-uid' } })).toThrow(/metadata.uid/);
  });

  it('owns(): a change to an owned object re-queues its controller owner (and only it)', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'owns');
    const core0 = kc.makeApiClient(CoreV1Api);
    await core0.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'parent-a' } } });
    await core0.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'parent-b' } } });
    // The controller's own kind has no event handlers here: every key it sees comes from owns().
    const mgr2 = new Manager({ kubeConfig: kc, logger: log, leaderElection: false, fieldManager: 'cai-owns-test' });
    const cms2 = mgr2.informer<ConfigMap>(configMaps(ns));
    const seen: string[] = [];
    mgr2.addController<ConfigMap>({
      name: 'owner',
      for: { get: cms2.get.bind(cms2), list: () => [], hasSynced: () => cms2.hasSynced(), on: () => undefined },
      owns: [{ informer: cms2, owner: { apiVersion: 'v1', kind: 'ConfigMap' } }],
      reconcile: async (key: ObjectKey) => {
        seen.push(key.name);
        const parent = cms2.get(key.namespace, key.name);
        if (parent) await apply(mgr2.client, withControllerReference<ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${key.name}-child`, namespace: ns }, data: { from: key.name } }, parent));
      },
    });
    await mgr2.start();
    try {
      const core = kc.makeApiClient(CoreV1Api);
      // Create a child by hand for parent-a: its add event maps to parent-a; the reconcile then applies.
      const parentA = await core.readNamespacedConfigMap({ namespace: ns, name: 'parent-a' });
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'parent-a-child', ownerReferences: [{ ...controllerReference({ apiVersion: 'v1', kind: 'ConfigMap', metadata: parentA.metadata as KubernetesObject['metadata'] }) }] }, data: { from: 'hand' } } });
      await waitFor('owner parent-a re-queued by its child', () => seen.includes('parent-a'));
      await waitFor('child restored by apply', async () => (await core.readNamespacedConfigMap({ namespace: ns, name: 'parent-a-child' })).data?.['from'] === 'parent-a');
      expect(seen).not.toContain('parent-b');
      expect(seen).not.toContain('parent-a-child');
      // An object without a controller reference maps to nothing.
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'loose' } } });
      await new Promise((r) => setTimeout(r, 500));
      expect(seen.every((k) => k === 'parent-a')).toBe(true);
    } finally {
      await mgr2.stop();
    }
  });

  it('patchStatus sends nothing when the merge patch is empty (the API server counts no PATCH)', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'nopatch');
    await createCustom(kc, 'confidentialagents', ns, localAgent('quiet', 'none'));
    const clients = makeClients(kc);
    const read = async () => (await getAgent(kc, ns, 'quiet'))!;
    const status = { conditions: [{ type: 'Ready', status: 'Unknown' as const, reason: 'Reconciling', message: 'not evaluated yet', lastTransitionTime: '2026-01-01T00:00:00Z' }] };
    const before = await statusPatches();
    expect(await patchStatus(clients, AGENTS, await read(), status)).toBe(true);
    // Same content, keys in another order: semantically equal, so no request.
    const reordered = { conditions: [{ lastTransitionTime: '2026-01-01T00:00:00Z', message: 'not evaluated yet', reason: 'Reconciling', status: 'Unknown' as const, type: 'Ready' }] };
    expect(await patchStatus(clients, AGENTS, await read(), reordered)).toBe(false);
    expect(await statusPatches()).toBe(before + 1);
  });
});

describe('operator: a second identical reconcile sends no status PATCH', () => {
  let cloud: LocalCloud;
  let operator: OperatorHandle;
  beforeAll(async () => {
    cloud = await startLocalCloud({ launchGuest: localGuests().launch, pendingMs: 5 });
    operator = await startTestOperator(controlPlane().kubeConfig(), ['--local-cloud-url', cloud.url, '--operator-namespace', 'cai-nopatch', '--gc-interval', '3600']);
  });
  afterAll(async () => {
    await operator?.stop();
    await cloud?.close();
  });

  it('re-reconciling a Ready agent (annotation change) patches no status', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'steady');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, localAgent('steady', 'dev'));
    await waitFor('steady Ready', async () => conditionOf(await getAgent(kc, ns, 'steady'), 'Ready')?.status === 'True', { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 1000)); // let any in-flight reconcile finish
    const reconciles = async () =>
      ((await operator.manager.metrics.getSingleMetric('controller_runtime_reconcile_total')?.get())?.values ?? [])
        .filter((v) => v.labels['controller'] === 'confidentialagent')
        .reduce((n, v) => n + v.value, 0);
    const patchesBefore = await statusPatches();
    const reconcilesBefore = await reconciles();
    expect(patchesBefore).toBeGreaterThan(0);
    // An annotation change passes the update predicate: the agent is reconciled again, with nothing to change.
    await customObjects(kc).patchNamespacedCustomObject(
      { group: AGENTS.group, version: AGENTS.version, namespace: ns, plural: AGENTS.plural, name: 'steady', body: { metadata: { annotations: { poke: '1' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitFor('agent reconciled again', async () => (await reconciles()) > reconcilesBefore);
    await new Promise((r) => setTimeout(r, 500));
    expect(await statusPatches()).toBe(patchesBefore);
  });
});
