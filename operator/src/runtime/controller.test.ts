import { pino } from 'pino';
import * as prom from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MemoryInformer } from '../../test/support/memory-informer.ts';
import { Controller } from './controller.ts';
import { RuntimeError } from './errors.ts';
import { RuntimeMetrics } from './metrics.ts';
import { ItemExponentialFailureRateLimiter } from './rate-limiter.ts';
import type { KubernetesObject, ObjectKey } from './types.ts';

const silent = pino({ level: 'silent' });
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick();
  }
}

function setup(reconcile: (key: ObjectKey, signal: AbortSignal) => Promise<{ requeueAfterMs?: number; requeue?: boolean } | void>, workers = 4) {
  const inf = new MemoryInformer();
  const related = new MemoryInformer();
  const metrics = new RuntimeMetrics(new prom.Registry());
  const ctrl = new Controller<KubernetesObject>(
    {
      name: 't',
      for: inf,
      workers,
      watches: [{ informer: related, map: (o) => [{ namespace: o.metadata?.namespace ?? '', name: String((o as { owner?: string }).owner) }] }],
      reconcile: (key, ctx) => reconcile(key, ctx.signal),
      rateLimiter: () => new ItemExponentialFailureRateLimiter<string>(5, 40),
    },
    { logger: silent, metrics },
  );
  return { inf, related, ctrl, metrics };
}

describe('Controller', () => {
  it('seeds the queue with every cached object on start and reconciles each key once', async () => {
    const seen: string[] = [];
    const { inf, ctrl } = setup(async (k) => void seen.push(`${k.namespace}/${k.name}`));
    inf.put('ns', 'a');
    inf.put('ns', 'b');
    ctrl.start();
    await until('both reconciled', () => seen.length === 2);
    expect(seen.sort()).toEqual(['ns/a', 'ns/b']);
    await ctrl.stop(1000);
  });

  it('never runs two reconciles of one key at once, even with many workers and a burst of events', async () => {
    let running = 0;
    let maxParallelSameKey = 0;
    let calls = 0;
    const { inf, ctrl } = setup(async () => {
      running++;
      calls++;
      maxParallelSameKey = Math.max(maxParallelSameKey, running);
      await tick(20);
      running--;
    }, 8);
    ctrl.start();
    inf.put('ns', 'hot');
    await until('first reconcile running', () => running === 1);
    for (let i = 0; i < 30; i++) inf.put('ns', 'hot'); // a burst while the key is being processed
    await until('quiet', () => calls === 2 && running === 0);
    await tick(60);
    expect(maxParallelSameKey).toBe(1);
    expect(calls).toBe(2); // the burst collapsed into exactly one more reconcile, after the first finished
    await ctrl.stop(1000);
  });

  it('owns(): maps an owned object to its controller owner of that kind; sources only enqueue keys', async () => {
    const seen: string[] = [];
    const owned = new MemoryInformer();
    let fire: (key: ObjectKey) => void = () => undefined;
    const ctrl = new Controller<KubernetesObject>(
      {
        name: 'owns',
        for: new MemoryInformer(),
        owns: [{ informer: owned, owner: { apiVersion: 'confidential-agent.io/v1alpha1', kind: 'ConfidentialAgent' } }],
        sources: [(enqueue) => (fire = enqueue)],
        reconcile: async (k, ctx) => {
          expect(typeof ctx.clock.now()).toBe('number');
          seen.push(`${k.namespace}/${k.name}`);
        },
      },
      { logger: silent, metrics: new RuntimeMetrics(new prom.Registry()) },
    );
    ctrl.start();
    const put = (name: string, kind: string, apiVersion: string, controller: boolean) =>
      owned.set({ metadata: { namespace: 'ns', name, ownerReferences: [{ apiVersion, kind, name: `${kind}-owner`, uid: 'u', controller }] } });
    put('svc', 'ConfidentialAgent', 'confidential-agent.io/v1alpha2', true); // other version, same group: mapped
    put('not-controller', 'ConfidentialAgent', 'confidential-agent.io/v1alpha1', false);
    put('other-kind', 'Deployment', 'apps/v1', true);
    put('other-group', 'ConfidentialAgent', 'example.com/v1', true);
    fire({ namespace: 'ns', name: 'from-kbs' });
    await until('owner and source keys reconciled', () => seen.includes('ns/ConfidentialAgent-owner') && seen.includes('ns/from-kbs'));
    await tick(30);
    expect([...new Set(seen)].sort()).toEqual(['ns/ConfidentialAgent-owner', 'ns/from-kbs']);
    await ctrl.stop(1000);
  });

  it('maps events of watched objects to owner keys', async () => {
    const seen: string[] = [];
    const { related, ctrl } = setup(async (k) => void seen.push(k.name));
    ctrl.start();
    related.put('ns', 'child', { owner: 'parent' });
    await until('owner reconciled', () => seen.includes('parent'));
    await ctrl.stop(1000);
  });

  it('retries errors with per-item backoff, honours retryAfterMs, requeueAfterMs and requeue', async () => {
    const attempts: Record<string, number[]> = {};
    const t0 = Date.now();
    const { inf, ctrl, metrics } = setup(async (k) => {
      (attempts[k.name] ??= []).push(Date.now() - t0);
      const n = attempts[k.name]?.length ?? 0;
      if (k.name === 'fails-twice' && n <= 2) throw new Error('boom');
      if (k.name === 'retry-after' && n === 1) throw new RuntimeError('API_ERROR', 'throttled', { retryAfterMs: 150 });
      if (k.name === 'periodic' && n <= 2) return { requeueAfterMs: 60 };
      if (k.name === 'again' && n === 1) return { requeue: true };
      return undefined;
    });
    for (const n of ['fails-twice', 'retry-after', 'periodic', 'again']) inf.put('ns', n);
    ctrl.start();
    await until('all settled', () => attempts['fails-twice']?.length === 3 && attempts['retry-after']?.length === 2 && attempts['periodic']?.length === 3 && attempts['again']?.length === 2);
    const gap = (name: string, i: number) => (attempts[name]?.[i] ?? 0) - (attempts[name]?.[i - 1] ?? 0);
    expect(gap('retry-after', 1)).toBeGreaterThanOrEqual(140);
    expect(gap('periodic', 1)).toBeGreaterThanOrEqual(55);
    expect(gap('fails-twice', 2)).toBeGreaterThanOrEqual(9); // second failure waits 2 x base
    const total = await metrics.reconcileTotal.get();
    const count = (result: string) => total.values.find((v) => v.labels['result'] === result)?.value;
    expect(count('error')).toBe(3);
    expect(count('requeue_after')).toBe(2);
    expect(count('requeue')).toBe(1);
    expect(count('success')).toBe(4);
    expect((await metrics.queueRetries.get()).values[0]?.value).toBe(3); // 2 errors + 1 requeue via the limiter
    await tick(100);
    expect(attempts['fails-twice']).toHaveLength(3); // success forgot the key: no further retries
    await ctrl.stop(1000);
  });

  it('stop() waits for in-flight reconciles within the grace period, then aborts their signal', async () => {
    let aborted = false;
    let finished = false;
    const { inf, ctrl } = setup(async (_k, signal) => {
      await new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => {
          aborted = true;
          resolve();
        });
      });
      finished = true;
    });
    inf.put('ns', 'stuck');
    ctrl.start();
    await tick(20);
    const t = Date.now();
    await ctrl.stop(100);
    expect(Date.now() - t).toBeGreaterThanOrEqual(95);
    await until('aborted reconcile to return', () => finished);
    expect(aborted).toBe(true);
    expect(ctrl.isRunning()).toBe(false);
    inf.put('ns', 'after-stop'); // ignored: no queue accepting work
    expect(ctrl.queueLength()).toBe(0);
  });

  it('rejects an invalid worker count', () => {
    expect(() => setup(async () => undefined, 0)).toThrow(/positive integer/);
  });
});
