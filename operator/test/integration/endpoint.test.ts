// The EndpointReady phase against the real kube-apiserver: the gateway ConfigMap/Deployment/Service are
// applied server-side with a controller owner reference to the agent, the pod template is admitted by
// restricted Pod Security admission, drift is repaired through owns(), a policy change that the instance
// no longer passes revokes the gateway in the same reconcile that records the failed attestation, and
// `enabled: false` removes everything.
// The test control plane runs no kube-controller-manager (envtest starts etcd + kube-apiserver only), so
// there is no garbage collector: deletion with the agent is asserted through the ownerReferences the
// garbage collector acts on, not observed.
import { AppsV1Api, CoreV1Api, EventsV1Api, PatchStrategy, setHeaderOptions, type V1ConfigMap, type V1Deployment, type V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { GROUP, VERSION } from '../../src/api/common.ts';
import { CONFIG_KEY, ENDPOINT_LABEL } from '../../src/controllers/agent/endpoint.ts';
import { parseTngConfig } from '../../src/protocol/tng-config.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { localGuests } from '../../src/sim/local/guest-launcher.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { apiServerRequests } from '../support/apiserver-metrics.ts';
import { conditionOf, createCustom, customObjects, getAgent, localAgent, samplePolicy, startTestOperator } from '../support/operator.ts';

const controlPlane = useControlPlane();
const AS_URL = 'http://as.cai-endpoint.svc:8082';

describe('EndpointReady (real API server)', () => {
  let cloud: LocalCloud;
  let operator: OperatorHandle;
  beforeAll(async () => {
    cloud = await startLocalCloud({ launchGuest: localGuests().launch, pendingMs: 5 });
    operator = await startTestOperator(controlPlane().kubeConfig(), ['--local-cloud-url', cloud.url, '--operator-namespace', 'cai-endpoint', '--gc-interval', '3600', '--endpoint-as-url', AS_URL]);
  });
  afterAll(async () => {
    await operator?.stop();
    await cloud?.close();
  });

  const patchMerge = (plural: string, ns: string, name: string, body: object) =>
    customObjects(controlPlane().kubeConfig()).patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));

  it('creates the gateway ConfigMap, Deployment and Service, owned by the agent, with a validated TNG config', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'endpoint');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, localAgent('web', 'dev'));
    const agent = await waitFor('web Ready', async () => {
      const a = await getAgent(kc, ns, 'web');
      return conditionOf(a, 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 60_000 });
    expect(conditionOf(agent, 'EndpointReady')).toMatchObject({ status: 'True', reason: 'Serving' });
    expect(agent.status?.endpoint).toMatchObject({ serviceName: `web.${ns}.svc`, port: 18789, protocol: 'HTTP', mode: 'rats-tls', policyId: `${ns}/dev/web`, instanceId: agent.status?.instance?.id });

    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const cm = await core.readNamespacedConfigMap({ namespace: ns, name: 'web-tng' });
    const deploy = await apps.readNamespacedDeployment({ namespace: ns, name: 'web-gateway' });
    const svc = await core.readNamespacedService({ namespace: ns, name: 'web' });
    for (const o of [cm, deploy, svc] as Array<V1ConfigMap | V1Deployment | V1Service>) {
      expect(o.metadata?.ownerReferences).toEqual([{ apiVersion: `${GROUP}/${VERSION}`, kind: 'ConfidentialAgent', name: 'web', uid: agent.metadata.uid, controller: true }]);
      expect(o.metadata?.labels?.[ENDPOINT_LABEL]).toBe('web');
      expect(o.metadata?.managedFields?.some((m) => m.operation === 'Apply')).toBe(true);
    }
    const config = parseTngConfig(cm.data?.[CONFIG_KEY] ?? '');
    const rule = config.add_ingress?.[0]?.mapping.rules[0];
    expect(rule?.in).toEqual({ host: '0.0.0.0', port: 18789 });
    expect(rule?.out.host).toBe('127.0.0.1');
    expect(config.add_ingress?.[0]?.verify).toEqual({ as_addr: AS_URL, policy_ids: [`${ns}/dev/web`] });
    expect(config.add_ingress?.[0]?.rats_tls).toEqual({ multiplex: false });
    expect(deploy.spec?.replicas).toBe(1);
    expect(deploy.spec?.template.spec?.containers[0]?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(deploy.spec?.template.spec?.containers[0]?.securityContext?.capabilities?.add).toBeUndefined();
    expect(svc.spec?.type).toBe('ClusterIP');
    expect(svc.spec?.ports?.map((p) => [p.name, p.port])).toEqual([['http', 18789], ['tng-health', 50000]]);

    // Restricted Pod Security admission admits the gateway's pod template (and enforcement is on).
    const restricted = await createNamespace(kc, 'pss');
    await core.patchNamespace({ name: restricted, body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const podSpec = deploy.spec!.template.spec!;
    await core.createNamespacedPod({ namespace: restricted, dryRun: 'All', body: { metadata: { name: 'gateway-probe' }, spec: podSpec } });
    const weak = structuredClone(podSpec);
    weak.containers[0]!.securityContext = { ...weak.containers[0]!.securityContext, capabilities: { add: ['NET_ADMIN'] } };
    await expect(core.createNamespacedPod({ namespace: restricted, dryRun: 'All', body: { metadata: { name: 'weak-probe' }, spec: weak } })).rejects.toThrow(/NET_ADMIN|capabilities/);
  });

  it('repairs drift: a tampered config and a deleted Service come back (owns() re-queues the agent)', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'drift');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, localAgent('d', 'dev'));
    await waitFor('d Ready', async () => conditionOf(await getAgent(kc, ns, 'd'), 'Ready')?.status === 'True', { timeoutMs: 60_000 });
    const core = kc.makeApiClient(CoreV1Api);
    // Nothing drifted: a reconcile (annotation poke) sends no apply (the cache already matches).
    const patches = async () => {
      let n = 0;
      for (const resource of ['configmaps', 'deployments', 'services']) n += await apiServerRequests(kc, { verb: 'PATCH', resource });
      return n;
    };
    await new Promise((r) => setTimeout(r, 500));
    const before = await patches();
    await patchMerge('confidentialagents', ns, 'd', { metadata: { annotations: { poke: '1' } } });
    await waitFor('poked agent reconciled', async () => (await getAgent(kc, ns, 'd'))?.metadata.annotations?.['poke'] === '1');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await patches()).toBe(before);
    const good = (await core.readNamespacedConfigMap({ namespace: ns, name: 'd-tng' })).data?.[CONFIG_KEY];
    const tampered = good!.replace(`${ns}/dev/d`, `${ns}/permissive/d`);
    await core.patchNamespacedConfigMap({ namespace: ns, name: 'd-tng', body: { data: { [CONFIG_KEY]: tampered } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await waitFor('config restored', async () => (await core.readNamespacedConfigMap({ namespace: ns, name: 'd-tng' })).data?.[CONFIG_KEY] === good);
    await core.deleteNamespacedService({ namespace: ns, name: 'd' });
    await waitFor('Service recreated', async () => (await core.listNamespacedService({ namespace: ns })).items.some((s) => s.metadata?.name === 'd'));
  });

  it('revokes in the reconcile that sees the instance fail its policy: scaled to zero, Event, EndpointReady=False Revoked', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'revoke');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, localAgent('r', 'dev'));
    await waitFor('r Ready', async () => conditionOf(await getAgent(kc, ns, 'r'), 'Ready')?.status === 'True', { timeoutMs: 60_000 });
    const apps = kc.makeApiClient(AppsV1Api);
    // Sample evidence appraises below "affirming": demanding it makes the running instance fail.
    await patchMerge('attestationpolicies', ns, 'dev', { spec: { minimumStatus: 'affirming' } });
    // A reconcile whose cache still held the old policy stops at PolicyUnconfirmed (no verdict on the instance,
    // nothing revoked yet); the refusal of the evidence under the edited policy follows within 2 s.
    const failed = await waitFor('attestation refused', async () => {
      const a = await getAgent(kc, ns, 'r');
      const attested = conditionOf(a, 'Attested');
      return attested?.status === 'False' && attested.reason !== 'PolicyUnconfirmed' ? a : undefined;
    }, { timeoutMs: 30_000 });
    // The same status write that records the refusal records the revocation, which was applied before it.
    expect(conditionOf(failed, 'EndpointReady')).toMatchObject({ status: 'False', reason: 'Revoked' });
    expect(conditionOf(failed, 'EndpointReady')?.message).toContain('not attested');
    expect(failed.status?.endpoint?.revoked).toBe(true);
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'r-gateway' })).spec?.replicas).toBe(0);
    const events = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
    expect(events.items.some((e) => e.reason === 'Revoked' && e.regarding?.name === 'r' && e.type === 'Warning' && /scaled to zero/.test(e.note ?? ''))).toBe(true);

    // Policy relaxed again: the instance re-attests and the gateway is restored.
    await patchMerge('attestationpolicies', ns, 'dev', { spec: { minimumStatus: 'warning' } });
    await waitFor('endpoint restored', async () => conditionOf(await getAgent(kc, ns, 'r'), 'EndpointReady')?.status === 'True', { timeoutMs: 60_000 });
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'r-gateway' })).spec?.replicas).toBe(1);
  });

  it('instance replaced out of band: the gateway follows the new instance and an Event names the change', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'replace');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, localAgent('rep', 'dev'));
    const ready = await waitFor('rep Ready', async () => {
      const a = await getAgent(kc, ns, 'rep');
      return conditionOf(a, 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 60_000 });
    const old = ready.status?.instance?.id ?? '';
    expect((await fetch(`${cloud.url}/v1/instances/${old}`, { method: 'DELETE' })).status).toBe(202);
    await patchMerge('confidentialagents', ns, 'rep', { metadata: { annotations: { poke: 'replaced' } } });
    const moved = await waitFor('endpoint on the new instance', async () => {
      const a = await getAgent(kc, ns, 'rep');
      return a?.status?.endpoint?.instanceId && a.status.endpoint.instanceId !== old && conditionOf(a, 'EndpointReady')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 60_000 });
    const events = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
    expect(events.items.some((e) => e.reason === 'GatewayUpdated' && (e.note ?? '').includes(`instance ${old} → ${moved.status?.endpoint?.instanceId ?? ''}`))).toBe(true);
  });

  it('onAttestationFailure: Keep leaves the gateway up and says so; enabled: false deletes the objects', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'keep');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, localAgent('k', 'dev', { endpoint: { onAttestationFailure: 'Keep', port: 8080, mode: 'ohttp' } }));
    await waitFor('k Ready', async () => conditionOf(await getAgent(kc, ns, 'k'), 'Ready')?.status === 'True', { timeoutMs: 60_000 });
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const config = parseTngConfig((await core.readNamespacedConfigMap({ namespace: ns, name: 'k-tng' })).data?.[CONFIG_KEY] ?? '');
    expect(config.add_ingress?.[0]?.ohttp).toEqual({});
    expect(config.add_ingress?.[0]?.mapping.rules[0]?.in.port).toBe(8080);
    await patchMerge('attestationpolicies', ns, 'dev', { spec: { minimumStatus: 'affirming' } });
    await waitFor('kept', async () => conditionOf(await getAgent(kc, ns, 'k'), 'EndpointReady')?.reason === 'NotAttestedKept', { timeoutMs: 30_000 });
    expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'k-gateway' })).spec?.replicas).toBe(1);

    await patchMerge('confidentialagents', ns, 'k', { spec: { endpoint: { enabled: false } } });
    await waitFor('objects deleted', async () => {
      const [cms, deps, svcs] = await Promise.all([core.listNamespacedConfigMap({ namespace: ns, labelSelector: ENDPOINT_LABEL }), apps.listNamespacedDeployment({ namespace: ns }), core.listNamespacedService({ namespace: ns })]);
      return cms.items.length === 0 && deps.items.length === 0 && svcs.items.length === 0;
    });
    expect((await getAgent(kc, ns, 'k'))?.status?.endpoint).toBeUndefined();
  });
});
