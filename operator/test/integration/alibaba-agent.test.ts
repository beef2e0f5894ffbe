// ConfidentialAgent with instance.alibaba against a real kube-apiserver + etcd, the in-process operator
// and the ECS API simulator (real ECS SDK in between): exactly one instance with our parameters and
// tags, deleted with the agent; no stock becomes a Provisioned=False condition with the ECS code and
// request id (no hot loop); a leaked owned instance is garbage-collected and an untagged one never
// touched; the fake AccessKey pair never shows up in logs, status or Events.
import { EventsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/common.ts';
import { startOperator, type OperatorHandle } from '../../src/app/operator.ts';
import { createAlibabaProvider } from '../../src/cloud/alibaba/index.ts';
import { Ecs } from '../../src/cloud/alibaba/sdk.ts';
import { startEcsSimulator, type EcsSimulator } from '../../src/sim/ecs/index.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { conditionOf, createCustom, customObjects, getAgent, samplePolicy, testConfig } from '../support/operator.ts';
import { METRIC } from '../../src/metrics/names.ts';
import { scrape, series } from '../support/prom-text.ts';
import { captureLogger, FAKE_AK_ID, FAKE_AK_SECRET, useFakeCredentials } from './alibaba-helpers.ts';

const controlPlane = useControlPlane();

const alibabaBlock = { imageId: 'm-trusted0001', vSwitchId: 'vsw-test0001', securityGroupId: 'sg-test0001' };

function alibabaAgent(name: string, policy: string, alibaba: Record<string, unknown> = {}) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'ConfidentialAgent',
    metadata: { name },
    spec: { instance: { alibaba: { ...alibabaBlock, ...alibaba } }, attestationPolicyRef: { name: policy } },
  };
}

describe('ConfidentialAgent on Alibaba Cloud (ECS simulator)', () => {
  let sim: EcsSimulator;
  let operator: OperatorHandle;
  const { logger, lines } = captureLogger();
  beforeAll(async () => {
    useFakeCredentials();
    sim = await startEcsSimulator({ timings: { pendingMs: 200, startingMs: 200, stoppingMs: 200 } });
    const kc = controlPlane().kubeConfig();
    const config = testConfig(['--providers', 'alibaba', '--alibaba-endpoint', sim.endpoint, '--alibaba-protocol', 'http', '--alibaba-rps', '20', '--gc-interval', '3600', '--gc-min-age', '0']);
    operator = await startOperator(config, { kubeConfig: kc, logger });
  });
  afterAll(async () => {
    await operator?.stop();
    await sim?.close();
  });

  it('provisions exactly one instance with the right parameters and tags, and deletes it with the agent', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'ali');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, alibabaAgent('a1', 'dev'));
    const agent = await waitFor('Provisioned=True', async () => {
      const a = await getAgent(kc, ns, 'a1');
      return conditionOf(a, 'Provisioned')?.status === 'True' ? a : undefined;
    });
    const uid = agent.metadata.uid ?? '';
    const mine = sim.instances().filter((i) => i.tags.some((t) => t.key === 'confidential-agent.io/uid' && t.value === uid));
    expect(mine.map((i) => i.instanceId)).toEqual([agent.status?.instance?.id]);
    const inst = mine[0]!;
    expect(inst).toMatchObject({ instanceType: 'ecs.gn8v-tee.4xlarge', zoneId: 'cn-beijing-l', imageId: 'm-trusted0001', systemDisk: { category: 'cloud_essd', size: 200 }, internetMaxBandwidthOut: 0 });
    expect(inst.publicIp).toBeUndefined();
    expect(inst.confidentialComputingMode).toBeUndefined();
    expect(Object.fromEntries(inst.tags.map((t) => [t.key, t.value]))).toMatchObject({
      'confidential-agent.io/managed-by': 'confidential-agent-operator',
      'confidential-agent.io/cluster-id': operator.clusterId,
      'confidential-agent.io/namespace': ns,
      'confidential-agent.io/name': 'a1',
      'confidential-agent.io/profile': 'openclaw-vllm',
    });
    expect(agent.status?.instance).toMatchObject({ provider: 'alibaba', state: 'Running', zone: 'cn-beijing-l' });
    expect(agent.status?.instance?.address).toMatch(/^127\.10\.\d+\.\d+:18789$/); // the simulator's loopback "VPC" addresses
    expect(sim.requestLog.filter((r) => r.action === 'RunInstances' && r.params.DryRun !== 'true' && r.params['Tag.5.Value'] === uid)).toHaveLength(1);

    await customObjects(kc).deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'confidentialagents', name: 'a1' });
    await waitFor('agent object gone', async () => ((await getAgent(kc, ns, 'a1')) === undefined ? true : undefined), { timeoutMs: 60_000 });
    expect(sim.instances().some((i) => i.instanceId === inst.instanceId)).toBe(false);
  });

  it('no stock: Provisioned=False with the ECS code and request id, and no retry storm', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'ali-nostock');
    sim.faults.noStock('cn-beijing-l', 'ecs.gn8v-tee.8xlarge');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, alibabaAgent('a2', 'dev', { instanceType: 'ecs.gn8v-tee.8xlarge' }));
    const cond = await waitFor('Provisioned=False NoCapacity', async () => {
      const c = conditionOf(await getAgent(kc, ns, 'a2'), 'Provisioned');
      return c?.reason === 'NoCapacity' ? c : undefined;
    });
    const stockChecks = () => sim.requestLog.filter((r) => r.action === 'DescribeAvailableResource' && r.params.InstanceType === 'ecs.gn8v-tee.8xlarge');
    const requestId = stockChecks().at(-1)!.requestId;
    expect(cond.status).toBe('False');
    expect(cond.message).toContain('OperationDenied.NoStock');
    expect(cond.message).toContain(requestId);
    const seen = stockChecks().length;
    await new Promise((r) => setTimeout(r, 3000));
    expect(stockChecks().length).toBeLessThanOrEqual(seen + 1);
    expect(sim.requestLog.some((r) => r.action === 'RunInstances' && r.params.InstanceType === 'ecs.gn8v-tee.8xlarge' && r.params.DryRun !== 'true')).toBe(false);
    const events = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
    expect(events.items.some((e) => e.reason === 'NoCapacity' && (e.note ?? '').includes('OperationDenied.NoStock'))).toBe(true);
  });

  it('counts cloud API requests by action and result code, and the token-bucket waits, on /metrics', async () => {
    const text = await scrape(operator);
    const ok = series(text, METRIC.cloudRequests).filter((s) => s.labels.provider === 'alibaba' && s.labels.code === 'OK');
    for (const action of ['RunInstances', 'DescribeInstances', 'DescribeAvailableResource']) expect(ok.find((s) => s.labels.action === action)?.value, action).toBeGreaterThanOrEqual(1);
    expect(series(text, `${METRIC.cloudRateLimitWait}_count`).find((s) => s.labels.provider === 'alibaba')?.value).toBeGreaterThanOrEqual(ok.reduce((n, s) => n + s.value, 0));
    expect(text).toContain(`# TYPE ${METRIC.cloudThrottles} counter`);
  });

  it('garbage-collects a leaked owned instance and never touches an instance without our tags', async () => {
    const stray = createAlibabaProvider({ clusterId: operator.clusterId, endpoint: sim.endpoint, protocol: 'http', requestsPerSecond: 50 });
    const leaked = await stray.create({
      token: 'cai-leaked-instance-0001',
      owner: { clusterId: operator.clusterId, namespace: 'gone', name: 'gone', uid: 'no-such-uid' },
      spec: { ...alibabaBlock } as never,
      labels: {},
    });
    const foreign = await stray.caller().call('RunInstances', (c) =>
      c.runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-beijing', zoneId: 'cn-beijing-l', instanceType: 'ecs.g8i.xlarge', ...alibabaBlock })),
    );
    const foreignId = foreign.body!.instanceIdSets!.instanceIdSet![0]!;
    await stray.waitForRunning(leaked.id, { timeoutMs: 10_000 });
    await waitFor('leaked instance collected', async () => {
      await operator.sweepOrphans();
      return sim.instances().some((i) => i.instanceId === leaked.id) ? undefined : true;
    }, { timeoutMs: 20_000, intervalMs: 300 });
    expect(sim.instances().some((i) => i.instanceId === foreignId)).toBe(true);
    expect(sim.requestLog.some((r) => r.params.InstanceId === foreignId)).toBe(false);
  });

  it('never puts the AccessKey ID or secret in logs, status or Events', async () => {
    const kc = controlPlane().kubeConfig();
    const agents = (await customObjects(kc).listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'confidentialagents' })) as { items: unknown[] };
    const events = await kc.makeApiClient(EventsV1Api).listEventForAllNamespaces();
    const everything = [...lines, JSON.stringify(agents.items), JSON.stringify(events.items)].join('\n');
    expect(lines.length).toBeGreaterThan(10);
    expect(everything).not.toContain(FAKE_AK_ID);
    expect(everything).not.toContain(FAKE_AK_SECRET);
  });
});
