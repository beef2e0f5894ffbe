// The Alibaba provider through the real ECS SDK against the ECS API simulator: launch parameters and
// tags, delete, lost RunInstances responses across an operator restart, ownership for GC, and
// credential hygiene.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEcsSimulator, type EcsSimulator } from '../../src/sim/ecs/index.ts';
import { ProviderError } from '../../src/cloud/provider.ts';
import { captureLogger, FAKE_AK_ID, FAKE_AK_SECRET, provider, request, spec, useFakeCredentials } from './alibaba-helpers.ts';

let sim: EcsSimulator;
beforeAll(async () => {
  useFakeCredentials();
  sim = await startEcsSimulator({ timings: { pendingMs: 100, startingMs: 100, stoppingMs: 100, imageImportMs: 200 } });
});
afterAll(async () => sim.close());
afterEach(() => sim.faults.clear());

const tagsOf = (id: string) => new Map(sim.instances().find((i) => i.instanceId === id)?.tags.map((t) => [t.key, t.value]));
const runs = () => sim.requestLog.filter((r) => r.action === 'RunInstances' && r.params.DryRun !== 'true');

describe('alibaba provider against the ECS simulator', () => {
  it('launches exactly one gn8v-tee instance with the right parameters and tags, idempotently', async () => {
    const p = provider(sim.endpoint);
    const req = request('cluster-1');
    const before = runs().length;
    const info = await p.create(req);
    expect(info.state).toBe('Pending');
    const again = await p.create(req);
    expect(again.id).toBe(info.id);
    expect(sim.instances().filter((i) => i.clientToken === req.token)).toHaveLength(1);
    expect(runs().length - before).toBe(1);

    const params = runs().at(-1)!.params;
    expect(params).toMatchObject({
      RegionId: 'cn-beijing',
      ZoneId: 'cn-beijing-l',
      InstanceType: 'ecs.gn8v-tee.4xlarge',
      ImageId: 'm-trusted0001',
      VSwitchId: 'vsw-test0001',
      SecurityGroupId: 'sg-test0001',
      'SystemDisk.Category': 'cloud_essd',
      'SystemDisk.Size': '200',
      InternetMaxBandwidthOut: '0',
      InstanceChargeType: 'PostPaid',
      ClientToken: req.token,
    });
    expect(params['SecurityOptions.ConfidentialComputingMode']).toBeUndefined(); // TDX is built into gn8v-tee
    expect(params.UserData).toBeUndefined();
    const tags = tagsOf(info.id);
    expect(Object.fromEntries(tags)).toEqual({
      'confidential-agent.io/managed-by': 'confidential-agent-operator',
      'confidential-agent.io/cluster-id': 'cluster-1',
      'confidential-agent.io/namespace': 'team-a',
      'confidential-agent.io/name': req.owner.name,
      'confidential-agent.io/uid': req.owner.uid,
      'confidential-agent.io/client-token': req.token,
      'confidential-agent.io/profile': 'openclaw-vllm',
    });
    // The pre-flight ran first: stock check, then a dry run without the idempotency token.
    const dry = sim.requestLog.filter((r) => r.action === 'RunInstances' && r.params.DryRun === 'true').at(-1)!;
    expect(dry.code).toBe('DryRunOperation');
    expect(dry.params.ClientToken).toBeUndefined();

    const running = await p.waitForRunning(info.id, { timeoutMs: 10_000 });
    expect(running).toMatchObject({ id: info.id, state: 'Running', zone: 'cn-beijing-l', owner: req.owner, token: req.token });
    expect(running.address).toMatch(/^127\.10\.\d+\.\d+$/); // the simulator's loopback "VPC" addresses
    expect(sim.instances().find((i) => i.instanceId === info.id)?.publicIp).toBeUndefined();
    await p.close();
  });

  it('asks for TDX on TDX CPU types, sends user data base64 and a public IP only when requested', async () => {
    const p = provider(sim.endpoint);
    const req = request('cluster-1', spec({ instanceType: 'ecs.g8i.xlarge', internetMaxBandwidthOut: 10, userData: '#!/bin/sh\necho hi\n' }));
    const info = await p.create(req);
    const params = runs().at(-1)!.params;
    expect(params['SecurityOptions.ConfidentialComputingMode']).toBe('TDX');
    expect(Buffer.from(params.UserData!, 'base64').toString()).toBe('#!/bin/sh\necho hi\n');
    expect(params.InternetChargeType).toBe('PayByTraffic');
    expect(sim.instances().find((i) => i.instanceId === info.id)?.publicIp).toMatch(/^127\.47\./);
  });

  it('deletes with confirmation; deleting again (not found) is success', async () => {
    const p = provider(sim.endpoint);
    const info = await p.create(request('cluster-1'));
    await p.waitForRunning(info.id, { timeoutMs: 10_000 });
    await p.delete(info.id);
    expect(sim.requestLog.filter((r) => r.action === 'DeleteInstance').at(-1)?.params).toMatchObject({ InstanceId: info.id, Force: 'true' });
    await p.waitForDeleted(info.id, { timeoutMs: 10_000 });
    expect(await p.describe(info.id)).toBeUndefined();
    expect(sim.instances().some((i) => i.instanceId === info.id)).toBe(false);
    await expect(p.delete(info.id)).resolves.toBeUndefined();
  });

  it('retries a delete refused while the instance is still initializing, without a storm', async () => {
    const p = provider(sim.endpoint, { retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 } });
    sim.faults.slowTransitions(50); // Pending for 5 s
    const info = await p.create(request('cluster-1'));
    const before = sim.requestLog.filter((r) => r.action === 'DeleteInstance').length;
    const err = await p.delete(info.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'Retryable', code: 'IncorrectInstanceStatus.Initializing' });
    expect((err as ProviderError).requestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(sim.requestLog.filter((r) => r.action === 'DeleteInstance').length - before).toBe(2);
    sim.faults.slowTransitions(1);
  });

  it('a RunInstances response lost after the launch, then an operator restart: still one instance', async () => {
    const first = provider(sim.endpoint, { retry: { maxAttempts: 1 } });
    const req = request('cluster-1');
    sim.faults.dropResponses('RunInstances', 1);
    const err = await first.create(req).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'Retryable', code: 'NetworkError' });
    expect(sim.instances().filter((i) => i.clientToken === req.token)).toHaveLength(1);
    await first.close();

    const restarted = provider(sim.endpoint); // new process: no memory of the first attempt
    const found = await restarted.findByToken(req.token, req.owner);
    expect(found?.id).toBe(sim.instances().find((i) => i.clientToken === req.token)?.instanceId);
    const created = await restarted.create(req);
    expect(created.id).toBe(found?.id);
    expect(sim.instances().filter((i) => i.clientToken === req.token)).toHaveLength(1);
  });

  it('a lost response retried in-process reuses the ClientToken and gets the same instance', async () => {
    const p = provider(sim.endpoint);
    const req = request('cluster-1');
    const before = runs().length;
    sim.faults.dropResponses('RunInstances', 1);
    const info = await p.create(req);
    const sent = runs().slice(before);
    expect(sent).toHaveLength(2);
    expect(sent[0]!.dropped).toBe(true);
    expect(sent.map((r) => r.params.ClientToken)).toEqual([req.token, req.token]);
    expect(sim.instances().filter((i) => i.clientToken === req.token).map((i) => i.instanceId)).toEqual([info.id]);
  });

  it('listOwned returns leaked owned instances and never an instance without our tags', async () => {
    const mine = provider(sim.endpoint, { clusterId: 'gc-cluster' });
    const other = provider(sim.endpoint, { clusterId: 'other-cluster' });
    const leaked = await mine.create(request('gc-cluster'));
    const foreignCluster = await other.create(request('other-cluster'));
    // An instance someone else launched with no tags at all, and one that only mimics our cluster tag.
    const raw = mine.caller();
    const { Ecs } = await import('../../src/cloud/alibaba/sdk.ts');
    const s = spec();
    const base = { regionId: s.regionId, zoneId: s.zoneId, instanceType: s.instanceType, imageId: s.imageId, vSwitchId: s.vSwitchId, securityGroupId: s.securityGroupId };
    const untagged = await raw.call('RunInstances', (c) => c.runInstances(new Ecs.RunInstancesRequest(base)));
    const mimic = await raw.call('RunInstances', (c) =>
      c.runInstances(new Ecs.RunInstancesRequest({ ...base, tag: [new Ecs.RunInstancesRequestTag({ key: 'confidential-agent.io/cluster-id', value: 'gc-cluster' })] })),
    );
    const untaggedId = untagged.body!.instanceIdSets!.instanceIdSet![0]!;
    const mimicId = mimic.body!.instanceIdSets!.instanceIdSet![0]!;

    const owned = await mine.listOwned('gc-cluster');
    expect(owned.map((i) => i.id)).toEqual([leaked.id]);
    expect(owned[0]!.owner).toMatchObject({ clusterId: 'gc-cluster', namespace: 'team-a' });
    expect((await other.listOwned('other-cluster')).map((i) => i.id)).toEqual([foreignCluster.id]);

    // Deleting something we do not own is refused and leaves it alone.
    await new Promise((r) => setTimeout(r, 300));
    for (const id of [untaggedId, mimicId, foreignCluster.id]) {
      await expect(mine.delete(id)).rejects.toMatchObject({ kind: 'InvalidSpec', code: 'NotOwned' });
      expect(sim.instances().find((i) => i.instanceId === id)?.deleting).toBe(false);
    }
    expect(sim.requestLog.filter((r) => r.action === 'DeleteInstance' && [untaggedId, mimicId, foreignCluster.id].includes(r.params.InstanceId ?? ''))).toHaveLength(0);
  });

  it('listOwned pages through more than one DescribeInstances page', async () => {
    const p = provider(sim.endpoint, { clusterId: 'page-cluster' });
    const { Ecs } = await import('../../src/cloud/alibaba/sdk.ts');
    const s = spec();
    const ours = [
      new Ecs.RunInstancesRequestTag({ key: 'confidential-agent.io/managed-by', value: 'confidential-agent-operator' }),
      new Ecs.RunInstancesRequestTag({ key: 'confidential-agent.io/cluster-id', value: 'page-cluster' }),
    ];
    const base = { regionId: s.regionId, zoneId: s.zoneId, instanceType: s.instanceType, imageId: s.imageId, vSwitchId: s.vSwitchId, securityGroupId: s.securityGroupId, tag: ours };
    await p.caller().call('RunInstances', (c) => c.runInstances(new Ecs.RunInstancesRequest({ ...base, amount: 100 })));
    await p.caller().call('RunInstances', (c) => c.runInstances(new Ecs.RunInstancesRequest({ ...base, amount: 5 })));
    const before = sim.requestLog.length;
    const owned = await p.listOwned('page-cluster');
    expect(owned).toHaveLength(105);
    expect(new Set(owned.map((i) => i.id)).size).toBe(105);
    const pages = sim.requestLog.slice(before);
    expect(pages.map((r) => r.action)).toEqual(['DescribeInstances', 'DescribeInstances']);
    expect(pages[1]!.params.NextToken).toBeTruthy();
    // Tagged as ours but without namespace/name/uid: listed for GC, with no owner to match an agent.
    expect(owned[0]!.owner).toBeUndefined();
  });

  it('concurrent describes share DescribeInstances calls (≤ 100 ids each) and each gets its own instance', async () => {
    const p = provider(sim.endpoint, { clusterId: 'batch-cluster' });
    const { Ecs } = await import('../../src/cloud/alibaba/sdk.ts');
    const s = spec();
    const tag = [new Ecs.RunInstancesRequestTag({ key: 'confidential-agent.io/managed-by', value: 'confidential-agent-operator' })];
    const run = await p.caller().call('RunInstances', (c) =>
      c.runInstances(new Ecs.RunInstancesRequest({ regionId: s.regionId, zoneId: s.zoneId, instanceType: s.instanceType, imageId: s.imageId, vSwitchId: s.vSwitchId, securityGroupId: s.securityGroupId, tag, amount: 100 })),
    );
    const ids = [...(run.body?.instanceIdSets?.instanceIdSet ?? []), 'i-doesnotexist0', 'not-an-ecs-id'];
    const before = sim.requestLog.length;
    // What 16 reconcile workers do at once, many times over: describe their agents' instances.
    const got = await Promise.all(ids.map((id) => p.describe(id)));
    const calls = sim.requestLog.slice(before).filter((r) => r.action === 'DescribeInstances');
    expect(got.slice(0, 100).map((g) => g?.id)).toEqual(ids.slice(0, 100));
    expect(got.slice(100)).toEqual([undefined, undefined]);
    // 101 valid ids: two calls (the malformed one is never sent), not 101.
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => (JSON.parse(c.params.InstanceIds ?? '[]') as string[]).length).sort((a, b) => a - b)).toEqual([1, 100]);
  });

  it('never puts the AccessKey ID or secret in logs or errors, even when the server echoes the key id', async () => {
    const strict = await startEcsSimulator({ acceptedAccessKeyIds: ['LTAI5tSomeoneElsesKey000'] });
    const { logger, lines } = captureLogger();
    const p = provider(strict.endpoint, { logger });
    const err = await p.create(request('cluster-1')).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'Auth', code: 'InvalidAccessKeyId.NotFound' });
    // And a successful flow with debug logging against the normal simulator.
    const ok = provider(sim.endpoint, { logger });
    await ok.create(request('cluster-1'));
    sim.faults.quota(0);
    const quotaErr = await ok.create(request('cluster-1')).catch((e: unknown) => e);
    const outputs = [
      ...lines,
      JSON.stringify(err),
      String((err as Error).message),
      String((err as Error).stack),
      JSON.stringify(quotaErr),
      String((quotaErr as Error).stack),
      JSON.stringify(sim.requestLog),
      JSON.stringify(strict.requestLog),
    ].join('\n');
    expect(lines.length).toBeGreaterThan(3);
    expect(strict.requestLog.length).toBeGreaterThan(0);
    expect(outputs).not.toContain(FAKE_AK_ID);
    expect(outputs).not.toContain(FAKE_AK_SECRET);
    await strict.close();
  });
});
