// Failure behaviour of the Alibaba provider against the ECS simulator with the real SDK: throttling
// storms stay rate-bounded and converge; no stock / quota / unsupported type become classified
// ProviderErrors with the ECS code and request id after a bounded number of requests; transient
// conflicts and 5xx are retried.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEcsSimulator, type EcsSimulator } from '../../src/sim/ecs/index.ts';
import { ProviderError } from '../../src/cloud/provider.ts';
import { Registry } from 'prom-client';
import { DomainMetrics } from '../../src/metrics/domain.ts';
import { METRIC } from '../../src/metrics/names.ts';
import { series } from '../support/prom-text.ts';
import { provider, request, sleep, spec, useFakeCredentials } from './alibaba-helpers.ts';

let sim: EcsSimulator;
beforeAll(() => useFakeCredentials());
beforeEach(async () => {
  sim = await startEcsSimulator({ timings: { pendingMs: 50, startingMs: 50, stoppingMs: 50 } });
});
afterEach(async () => sim.close());

async function rejection(p: Promise<unknown>): Promise<ProviderError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

describe('alibaba provider under faults', () => {
  it('throttling storm: our request rate stays bounded by the token bucket and every agent converges to one instance', async () => {
    const rps = 8;
    const t0 = Date.now();
    const registry = new Registry();
    const p = provider(sim.endpoint, { requestsPerSecond: rps, retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 800 }, metrics: new DomainMetrics(registry) });
    sim.faults.throttleFor(1500); // everything throttled for 1.5 s ...
    sim.faults.rateLimit(6); // ... then server flow control at 6 requests/s
    const reqs = [0, 1, 2, 3].map(() => request('cluster-1'));
    const outcomes = await Promise.all(
      reqs.map(async (req) => {
        // The controller's loop: requeue on Retryable with its own delay, give up after many tries.
        for (let attempt = 0; attempt < 30; attempt++) {
          try {
            return await p.create(req);
          } catch (e) {
            if (!(e instanceof ProviderError) || e.kind !== 'Retryable') throw e;
            await sleep(200);
          }
        }
        throw new Error('did not converge');
      }),
    );
    for (const [i, req] of reqs.entries()) {
      expect(sim.instances().filter((x) => x.clientToken === req.token).map((x) => x.instanceId)).toEqual([outcomes[i]!.id]);
    }
    const throttled = sim.requestLog.filter((r) => r.code === 'Throttling.User').length;
    expect(throttled).toBeGreaterThan(0);
    // The operator's metrics saw every throttle the simulator sent, every request, and the bucket's waits.
    const text = await registry.metrics();
    const sum = (name: string, code?: string) => series(text, name).filter((s) => code === undefined || s.labels.code === code).reduce((n, s) => n + s.value, 0);
    expect(sum(METRIC.cloudThrottles)).toBe(throttled);
    expect(sum(METRIC.cloudRequests)).toBe(sim.requestLog.length);
    expect(sum(METRIC.cloudRequests, 'OK')).toBeGreaterThanOrEqual(4);
    expect(sum(`${METRIC.cloudRateLimitWait}_count`)).toBe(sim.requestLog.length);
    // Bucket: at most `rps` saved up plus `rps` earned in any second.
    expect(sim.peakRate(1000)).toBeLessThanOrEqual(2 * rps);
    expect(sim.requestLog.length).toBeLessThan(150);
    // Backing off: while everything was throttled we sent far fewer than the bucket would allow.
    const duringBlackout = sim.requestLog.filter((r) => r.at < t0 + 1500).length;
    expect(duringBlackout).toBeLessThanOrEqual(rps);
  });

  it('the token bucket alone caps a burst of concurrent calls', async () => {
    const rps = 20;
    const calls = 80; // without the bucket all 80 would arrive at once
    const p = provider(sim.endpoint, { requestsPerSecond: rps });
    const started = Date.now();
    await Promise.all(Array.from({ length: calls }, () => p.listOwned('cluster-1')));
    expect(sim.requestLog).toHaveLength(calls);
    expect(Date.now() - started).toBeGreaterThanOrEqual(((calls - rps) / rps) * 1000 - 100);
    // Nominal bound: burst + one second of refill (2 x rps). The slack absorbs delivery jitter on a
    // loaded machine (requests released on time can reach the server bunched together).
    expect(sim.peakRate(1000)).toBeLessThanOrEqual(2 * rps + rps / 2);
    expect(sim.peakRate(3000)).toBeLessThanOrEqual(4 * rps + rps / 2);
  });

  it('no stock: Capacity with OperationDenied.NoStock and the request id, no launch, no retry storm', async () => {
    let offset = 0;
    const p = provider(sim.endpoint, { now: () => Date.now() + offset, failureCacheMs: 60_000 });
    sim.faults.noStock('cn-beijing-l', 'ecs.gn8v-tee.4xlarge');
    const before = sim.requestLog.length;
    const first = await rejection(p.create(request('cluster-1')));
    expect(first).toMatchObject({ kind: 'Capacity', code: 'OperationDenied.NoStock' });
    const sent = sim.requestLog.slice(before);
    expect(sent.map((r) => r.action)).toEqual(['DescribeInstances', 'DescribeAvailableResource']);
    expect(first.requestId).toBe(sent[1]!.requestId);
    // Repeats of the same launch spec within the window: same error, only the token lookup is sent.
    for (let i = 0; i < 3; i++) {
      const mark = sim.requestLog.length;
      const again = await rejection(p.create(request('cluster-1')));
      expect(again).toMatchObject({ kind: 'Capacity', code: 'OperationDenied.NoStock', requestId: first.requestId, message: first.message });
      expect(sim.requestLog.slice(mark).map((r) => r.action)).toEqual(['DescribeInstances']);
    }
    // After the window the stock is checked again.
    offset = 61_000;
    const mark = sim.requestLog.length;
    const later = await rejection(p.create(request('cluster-1')));
    expect(later.requestId).not.toBe(first.requestId);
    expect(sim.requestLog.slice(mark).map((r) => r.action)).toEqual(['DescribeInstances', 'DescribeAvailableResource']);
    expect(sim.requestLog.some((r) => r.action === 'RunInstances')).toBe(false);
    expect(sim.instances()).toHaveLength(0);
  });

  it('quota exceeded: Quota with the dry run code and request id, no real launch', async () => {
    const p = provider(sim.endpoint);
    sim.faults.quota(0);
    const before = sim.requestLog.length;
    const err = await rejection(p.create(request('cluster-1')));
    expect(err).toMatchObject({ kind: 'Quota', code: 'QuotaExceed.ElasticQuota' });
    const sent = sim.requestLog.slice(before);
    expect(sent.map((r) => r.action)).toEqual(['DescribeInstances', 'DescribeAvailableResource', 'RunInstances']);
    expect(sent[2]!.params.DryRun).toBe('true');
    expect(err.requestId).toBe(sent[2]!.requestId);
    expect(err.message).toContain('No additional quota');
  });

  it('unsupported type in the zone: InvalidSpec InvalidInstanceType.NotSupported', async () => {
    const p = provider(sim.endpoint);
    const err = await rejection(p.create(request('cluster-1', spec({ instanceType: 'ecs.g7.xlarge' }))));
    expect(err).toMatchObject({ kind: 'InvalidSpec', code: 'InvalidInstanceType.NotSupported' });
    expect(err.requestId).toBe(sim.requestLog.find((r) => r.action === 'DescribeAvailableResource')?.requestId);
    expect(sim.requestLog.some((r) => r.action === 'RunInstances')).toBe(false);
  });

  it('TDX forced on a type not allow-listed for it: the dry run reports it as Capacity (gray_tdx)', async () => {
    const p = provider(sim.endpoint);
    const err = await rejection(p.create(request('cluster-1', spec({ confidentialComputingMode: 'TDX' }))));
    expect(err).toMatchObject({ kind: 'Capacity', code: 'InvalidResourceType.NotSupported' });
    expect(err.message).toContain('gray_tdx');
    expect(sim.instances()).toHaveLength(0);
  });

  it('OperationConflict, IdempotentProcessing and 5xx are retried and converge to one instance', async () => {
    const p = provider(sim.endpoint);
    sim.faults.conflict('RunInstances', 1);
    sim.faults.fail('IdempotentProcessing', { action: 'RunInstances', count: 1 });
    sim.faults.fail('InternalError', { action: 'DescribeAvailableResource', count: 1, status: 500 });
    const req = request('cluster-1');
    const info = await p.create(req);
    expect(sim.instances().map((i) => i.instanceId)).toEqual([info.id]);
    const codes = sim.requestLog.map((r) => r.code).filter(Boolean);
    expect(codes).toEqual(expect.arrayContaining(['OperationConflict', 'IdempotentProcessing', 'InternalError', 'DryRunOperation']));
  });

  it('a Retryable error that persists surfaces after the bounded attempts', async () => {
    const p = provider(sim.endpoint, { retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 20 } });
    sim.faults.fail('ServiceUnavailable', { count: Number.POSITIVE_INFINITY, status: 503 });
    const err = await rejection(p.describe('i-doesnotmatter'));
    expect(err).toMatchObject({ kind: 'Retryable', code: 'ServiceUnavailable' });
    expect(sim.requestLog).toHaveLength(3);
  });

  it('IdempotentParameterMismatch (token reused with other parameters) is InvalidSpec, not retried', async () => {
    const p = provider(sim.endpoint);
    const { Ecs } = await import('../../src/cloud/alibaba/sdk.ts');
    const s = spec();
    const base = { regionId: s.regionId, zoneId: s.zoneId, instanceType: s.instanceType, imageId: s.imageId, vSwitchId: s.vSwitchId, securityGroupId: s.securityGroupId, clientToken: 'tok-mismatch' };
    await p.caller().call('RunInstances', (c) => c.runInstances(new Ecs.RunInstancesRequest(base)));
    const err = await rejection(p.caller().call('RunInstances', (c) => c.runInstances(new Ecs.RunInstancesRequest({ ...base, imageId: 'm-other' }))));
    expect(err).toMatchObject({ kind: 'InvalidSpec', code: 'IdempotentParameterMismatch' });
    expect(sim.requestLog.filter((r) => r.action === 'RunInstances')).toHaveLength(2);
  });
});
