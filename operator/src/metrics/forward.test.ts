import * as prom from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DomainMetrics } from './domain.ts';
import { forwardingRecorder, replayMetrics, type MetricCall } from './forward.ts';
import { METRIC } from './names.ts';

describe('metrics across threads', () => {
  it('batches calls into plain messages and replays them into the main registry', async () => {
    const posted: MetricCall[][] = [];
    const worker = forwardingRecorder((calls) => posted.push(structuredClone(calls)));
    worker.kbsRequest('attest', 200);
    worker.kbsRequest('attest', 200);
    worker.collateral('00806F050000', 'tcb_info', new Date('2027-01-01T00:00:00Z'));
    worker.servingStale(true);
    expect(posted).toEqual([]); // batched
    worker.flush();
    expect(posted).toHaveLength(1);
    expect(posted[0]).toHaveLength(4);

    const registry = new prom.Registry();
    replayMetrics(new DomainMetrics(registry), posted[0]);
    const text = await registry.metrics();
    expect(text).toContain(`${METRIC.kbsRequests}{endpoint="attest",code="200"} 2`);
    expect(text).toContain(`${METRIC.collateralNextUpdate}{fmspc="00806F050000",kind="tcb_info"} 1798761600`);
    expect(text).toContain(`${METRIC.collateralServingStale}{host="operator"} 1`);
  });

  it('flushes on its own after 500 calls', () => {
    const posted: MetricCall[][] = [];
    const worker = forwardingRecorder((calls) => posted.push(calls));
    for (let i = 0; i < 1200; i++) worker.kbsSessions(i);
    expect(posted.map((b) => b.length)).toEqual([500, 500]);
    worker.flush();
    expect(posted.map((b) => b.length)).toEqual([500, 500, 200]);
  });

  it('drops anything that is not a listed method with plain arguments, and survives bad argument types', async () => {
    const registry = new prom.Registry();
    const m = new DomainMetrics(registry);
    const hostile: unknown[] = [
      ['constructor'],
      ['forgetPolicy', 'ns', 'name'],
      ['earKey', new Date()],
      ['kbsSessions', { valueOf: () => 7 }],
      ['release', 'KBS', 'delivered', 1, 2, 3],
      'kbsSessions',
      null,
      ['collateral', '00806F050000', 'tcb_info', 'not a Date'],
      ['kbsSessions', 3],
    ];
    expect(() => replayMetrics(m, hostile)).not.toThrow();
    expect(() => replayMetrics(m, { length: 1, 0: ['kbsSessions', 9] })).not.toThrow();
    const text = await registry.metrics();
    expect(text).toContain(`${METRIC.kbsSessions} 3`);
    expect(text).toMatch(new RegExp(`^${METRIC.earKeyCreated} 0$`, 'm')); // not forwarded: untouched
    expect(text).not.toContain('fmspc="00806F050000"');
    expect(text).not.toMatch(new RegExp(`^${METRIC.releases}\\{`, 'm'));
  });
});
