import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/manual-clock.ts';
import { ItemExponentialFailureRateLimiter } from './rate-limiter.ts';
import { WorkQueue, type WorkQueueMetrics } from './workqueue.ts';

function recorder(): WorkQueueMetrics & { adds: number; retries: number; depths: number[]; queued: number[]; worked: number[] } {
  const r = {
    adds: 0,
    retries: 0,
    depths: [] as number[],
    queued: [] as number[],
    worked: [] as number[],
    add: () => void r.adds++,
    retry: () => void r.retries++,
    depth: (n: number) => void r.depths.push(n),
    queueDuration: (s: number) => void r.queued.push(s),
    workDuration: (s: number) => void r.worked.push(s),
  };
  return r;
}

async function getItem<T>(q: WorkQueue<T>): Promise<T> {
  const r = await q.get();
  if (r.shutdown) throw new Error('queue shut down');
  return r.item;
}

describe('WorkQueue', () => {
  it('deduplicates items that are waiting', async () => {
    const q = new WorkQueue<string>({ name: 't', clock: new ManualClock() });
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await getItem(q)).toBe('a');
    expect(await getItem(q)).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('never hands an item in processing to a second worker; re-queues it once after done', async () => {
    const q = new WorkQueue<string>({ name: 't', clock: new ManualClock() });
    q.add('a');
    const first = await getItem(q);
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0); // held back while processing
    let second: string | undefined;
    void q.get().then((r) => (second = r.item));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(first);
    await Promise.resolve();
    expect(second).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0); // the two adds during processing collapsed into one
  });

  it('wakes a waiting worker when an item arrives', async () => {
    const q = new WorkQueue<string>({ name: 't', clock: new ManualClock() });
    const p = q.get();
    q.add('x');
    expect(await p).toEqual({ item: 'x', shutdown: false });
  });

  it('addAfter delays the add and keeps the earliest time per item', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue<string>({ name: 't', clock });
    q.addAfter('a', 100);
    q.addAfter('a', 500); // later: ignored
    q.addAfter('b', 300);
    q.addAfter('b', 50); // earlier: replaces
    expect(q.delayedCount()).toBe(2);
    clock.advance(60);
    expect(q.len()).toBe(1);
    expect(await getItem(q)).toBe('b');
    clock.advance(40);
    expect(await getItem(q)).toBe('a');
    clock.advance(1000);
    expect(q.len()).toBe(0);
    expect(q.delayedCount()).toBe(0);
  });

  it('addRateLimited backs off exponentially per item; forget resets it', () => {
    const clock = new ManualClock();
    const m = recorder();
    const q = new WorkQueue<string>({ name: 't', clock, rateLimiter: new ItemExponentialFailureRateLimiter(10, 1000), metrics: m });
    q.addRateLimited('a');
    expect(q.numRequeues('a')).toBe(1);
    clock.advance(9);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    q.addRateLimited('b');
    q.addRateLimited('b');
    expect(q.numRequeues('b')).toBe(2);
    q.forget('b');
    expect(q.numRequeues('b')).toBe(0);
    expect(m.retries).toBe(3);
  });

  it('reports metrics: adds, depth, queue and work durations', async () => {
    const clock = new ManualClock();
    const m = recorder();
    const q = new WorkQueue<string>({ name: 't', clock, metrics: m });
    q.add('a');
    q.add('a');
    q.add('b');
    expect(m.adds).toBe(2);
    expect(m.depths.at(-1)).toBe(2);
    clock.advance(250);
    const a = await getItem(q);
    expect(m.queued).toEqual([0.25]);
    clock.advance(1500);
    q.done(a);
    expect(m.worked).toEqual([1.5]);
    expect(m.depths.at(-1)).toBe(1);
  });

  it('shutDown releases waiting workers, rejects new items, and drained() waits for in-flight work', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue<string>({ name: 't', clock });
    q.add('a');
    const a = await getItem(q);
    const waiting = q.get();
    q.addAfter('later', 10);
    q.shutDown();
    expect(await waiting).toEqual({ item: undefined, shutdown: true });
    q.add('b');
    clock.advance(100);
    expect(q.len()).toBe(0);
    let drained = false;
    void q.drained().then(() => (drained = true));
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done(a);
    await Promise.resolve();
    expect(drained).toBe(true);
    expect(await q.get()).toEqual({ item: undefined, shutdown: true });
  });
});
