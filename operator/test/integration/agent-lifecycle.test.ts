// ConfidentialAgent lifecycle against a real kube-apiserver + etcd with the `local` provider:
// provision, delete (finalizer), adoption of an instance created before a crash, orphan GC.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceToken } from '../../src/controllers/agent/instance-token.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { workloadGuestLauncher } from '../../src/sim/local/guest-launcher.ts';
import { createLocalProvider } from '../../src/cloud/local/provider.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { conditionOf, createCustom, customObjects, getAgent, localAgent, samplePolicy, startTestOperator } from '../support/operator.ts';
import { GROUP, VERSION } from '../../src/api/common.ts';

const controlPlane = useControlPlane();

describe('ConfidentialAgent lifecycle (local provider)', () => {
  let cloud: LocalCloud;
  let operator: OperatorHandle | undefined;
  beforeAll(async () => {
    cloud = await startLocalCloud({ launchGuest: workloadGuestLauncher(), pendingMs: 5 });
  });
  afterAll(async () => {
    await operator?.stop();
    await cloud.close();
  });

  it('provisions an agent, reports its address, and deletes the instance before releasing the finalizer', async () => {
    const kc = controlPlane().kubeConfig();
    operator = await startTestOperator(kc, ['--local-cloud-url', cloud.url, '--gc-interval', '3600']);
    const ns = await createNamespace(kc, 'lifecycle');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, localAgent('a1', 'dev', { workload: { model: 'lifecycle-model' } }));

    const agent = await waitFor('Provisioned=True', async () => {
      const a = await getAgent(kc, ns, 'a1');
      return conditionOf(a, 'Provisioned')?.status === 'True' ? a : undefined;
    });
    expect(agent.metadata.finalizers).toContain('confidential-agent.io/instance-cleanup');
    expect(agent.status?.instance).toMatchObject({ provider: 'local', state: 'Running' });
    expect(agent.status?.observedGeneration).toBe(agent.metadata.generation);
    // kstatus: every condition is present, and Ready never claims what has not happened.
    for (const type of ['Ready', 'Provisioned', 'Attested', 'CredentialsReleased']) expect(conditionOf(agent, type)).toBeDefined();
    if (conditionOf(agent, 'Ready')?.status === 'True') {
      expect([conditionOf(agent, 'Attested')?.status, conditionOf(agent, 'CredentialsReleased')?.status]).toEqual(['True', 'True']);
    }
    const address = agent.status?.instance?.address ?? '';
    const models = (await (await fetch(`http://${address}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data[0]?.id).toBe('lifecycle-model');
    const mine = cloud.instances().filter((i) => i.owner.uid === agent.metadata.uid);
    expect(mine.map((i) => i.id)).toEqual([agent.status?.instance?.id]);

    await customObjects(kc).deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'confidentialagents', name: 'a1' });
    await waitFor('agent object gone', async () => ((await getAgent(kc, ns, 'a1')) === undefined ? true : undefined));
    expect(cloud.instances().filter((i) => i.owner.uid === agent.metadata.uid)).toEqual([]);
  });

  it('adopts an instance that was created for the agent before status was written (no second instance)', async () => {
    const kc = controlPlane().kubeConfig();
    await operator?.stop();
    operator = undefined;
    const ns = await createNamespace(kc, 'adopt');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, localAgent('a2', 'dev'));
    const created = await getAgent(kc, ns, 'a2');
    const uid = created?.metadata.uid ?? '';
    // What a crashed reconcile leaves behind: the instance exists, status does not name it.
    const kubeSystem = await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'kube-system' });
    const provider = createLocalProvider({ url: cloud.url });
    const owner = { clusterId: kubeSystem.metadata?.uid ?? '', namespace: ns, name: 'a2', uid };
    const orphaned = await provider.create({
      token: instanceToken(uid, created?.spec.instance),
      owner,
      spec: { bootDelaySeconds: 0, workload: { model: 'm', port: 18789 }, guestApiPort: 8006, manifest: [] },
      labels: {},
    });
    operator = await startTestOperator(kc, ['--local-cloud-url', cloud.url, '--gc-interval', '3600']);
    const agent = await waitFor('Provisioned=True', async () => {
      const a = await getAgent(kc, ns, 'a2');
      return conditionOf(a, 'Provisioned')?.status === 'True' ? a : undefined;
    });
    expect(agent.status?.instance?.id).toBe(orphaned.id);
    expect(cloud.instances().filter((i) => i.owner.uid === uid)).toHaveLength(1);
  });

  it('garbage-collects owned instances whose agent is gone and never touches instances it does not own', async () => {
    const kc = controlPlane().kubeConfig();
    await operator?.stop();
    operator = await startTestOperator(kc, ['--local-cloud-url', cloud.url, '--gc-interval', '3600', '--gc-min-age', '0']);
    const provider = createLocalProvider({ url: cloud.url });
    const spec = { bootDelaySeconds: 0, workload: { model: 'm', port: 18789 }, guestApiPort: 8006, manifest: [] };
    const leaked = await provider.create({ token: 'leaked-token-1', owner: { clusterId: operator.clusterId, namespace: 'gone', name: 'gone', uid: 'no-such-uid' }, spec, labels: {} });
    const foreign = await provider.create({ token: 'foreign-token-1', owner: { clusterId: 'another-cluster', namespace: 'x', name: 'x', uid: 'x' }, spec, labels: {} });
    await waitFor('operator caches synced and leading', async () => ((await operator!.sweepOrphans()) >= 1 ? true : undefined), { timeoutMs: 20_000, intervalMs: 250 });
    await waitFor('leaked instance deleted', () => (cloud.instances().some((i) => i.id === leaked.id) ? undefined : true));
    expect(cloud.instances().some((i) => i.id === foreign.id)).toBe(true);
  });
});
