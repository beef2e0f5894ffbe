// A work queue with client-go semantics (k8s.io/client-go/util/workqueue):
// - dirty set: an item queued twice before it is picked up is processed once;
// - processing set: an item is never handed to two workers at once; if it is added while being
//   processed it is queued again exactly once, after done();
// - addAfter: delayed adds, deduplicated to the earliest ready time per item;
// - addRateLimited / forget / numRequeues: retries paced by a RateLimiter.

import { realClock, type Clock } from './clock.ts';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.ts';

/** Hooks for workqueue_* metrics; all times in seconds. */
export interface WorkQueueMetrics {
  add(): void;
  depth(n: number): void;
  queueDuration(seconds: number): void;
  workDuration(seconds: number): void;
  retry(): void;
}

export interface WorkQueueOptions<T> {
  name: string;
  clock?: Clock;
  rateLimiter?: RateLimiter<T>;
  metrics?: WorkQueueMetrics;
}

export type GetResult<T> = { item: T; shutdown: false } | { item: undefined; shutdown: true };

export class WorkQueue<T> {
  readonly name: string;
  readonly #clock: Clock;
  readonly #limiter: RateLimiter<T>;
  readonly #metrics: WorkQueueMetrics | undefined;
  #queue: T[] = [];
  #dirty = new Set<T>();
  #processing = new Set<T>();
  #addedAt = new Map<T, number>();
  #startedAt = new Map<T, number>();
  #waiters: Array<(r: GetResult<T>) => void> = [];
  #delayed = new Map<T, { at: number; cancel: () => void }>();
  #drainWaiters: Array<() => void> = [];
  #shuttingDown = false;

  constructor(opts: WorkQueueOptions<T>) {
    this.name = opts.name;
    this.#clock = opts.clock ?? realClock;
    this.#limiter = opts.rateLimiter ?? defaultControllerRateLimiter<T>(this.#clock);
    this.#metrics = opts.metrics;
  }

  add(item: T): void {
    if (this.#shuttingDown || this.#dirty.has(item)) return;
    this.#metrics?.add();
    this.#dirty.add(item);
    if (!this.#addedAt.has(item)) this.#addedAt.set(item, this.#clock.now());
    if (this.#processing.has(item)) return;
    this.#push(item);
  }

  /** Adds item once ms have passed; a pending delayed add for the same item keeps the earlier time. */
  addAfter(item: T, ms: number): void {
    if (this.#shuttingDown) return;
    if (!(ms > 0)) {
      this.add(item);
      return;
    }
    const at = this.#clock.now() + ms;
    const pending = this.#delayed.get(item);
    if (pending && pending.at <= at) return;
    pending?.cancel();
    const cancel = this.#clock.setTimer(() => {
      this.#delayed.delete(item);
      this.add(item);
    }, ms);
    this.#delayed.set(item, { at, cancel });
  }

  addRateLimited(item: T): void {
    this.#metrics?.retry();
    this.addAfter(item, this.#limiter.when(item));
  }

  forget(item: T): void {
    this.#limiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.#limiter.numRequeues(item);
  }

  /** Next item, waiting until one is available; { shutdown: true } once the queue is shut down and empty. */
  get(): Promise<GetResult<T>> {
    const next = this.#take();
    if (next) return Promise.resolve(next);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks item as no longer being processed; re-queues it if it was added meanwhile. */
  done(item: T): void {
    const started = this.#startedAt.get(item);
    if (started !== undefined) this.#metrics?.workDuration((this.#clock.now() - started) / 1000);
    this.#startedAt.delete(item);
    this.#processing.delete(item);
    if (this.#dirty.has(item)) this.#push(item);
    else if (this.#processing.size === 0) this.#notifyDrained();
  }

  len(): number {
    return this.#queue.length;
  }

  processingCount(): number {
    return this.#processing.size;
  }

  delayedCount(): number {
    return this.#delayed.size;
  }

  isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Stops accepting items and releases every waiting get(); queued items are dropped (client-go ShutDown). */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const d of this.#delayed.values()) d.cancel();
    this.#delayed.clear();
    this.#queue = [];
    this.#dirty.clear();
    this.#addedAt.clear();
    this.#metrics?.depth(0);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w({ item: undefined, shutdown: true });
    if (this.#processing.size === 0) this.#notifyDrained();
  }

  /** Resolves when no item is being processed (after shutDown, that is when workers have finished). */
  drained(): Promise<void> {
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      const r = this.#start(item);
      waiter(r);
      return;
    }
    this.#queue.push(item);
    this.#metrics?.depth(this.#queue.length);
  }

  #take(): GetResult<T> | undefined {
    if (this.#queue.length > 0) {
      const item = this.#queue.shift() as T;
      this.#metrics?.depth(this.#queue.length);
      return this.#start(item);
    }
    if (this.#shuttingDown) return { item: undefined, shutdown: true };
    return undefined;
  }

  #start(item: T): GetResult<T> {
    const now = this.#clock.now();
    const added = this.#addedAt.get(item);
    if (added !== undefined) this.#metrics?.queueDuration((now - added) / 1000);
    this.#addedAt.delete(item);
    this.#startedAt.set(item, now);
    this.#processing.add(item);
    this.#dirty.delete(item);
    return { item, shutdown: false };
  }

  #notifyDrained(): void {
    const ws = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of ws) w();
  }
}
