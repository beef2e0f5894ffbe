// One controller: a work queue of object keys fed by informer events, and N workers that call reconcile.
// The queue guarantees a key is never processed by two workers at once; across a stop/start (leadership
// lost and regained) a key still in flight from the old generation of workers is awaited first.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { controllerOf } from './apply.ts';
import { realClock, type Clock } from './clock.ts';
import { describeError, isConflict, retryAfterOf } from './errors.ts';
import type { SharedInformer } from './informer.ts';
import type { ReconcileResultLabel, RuntimeMetrics } from './metrics.ts';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.ts';
import { keyFromString, keyToString, objectKey, type KubernetesObject, type ObjectKey } from './types.ts';
import { WorkQueue } from './workqueue.ts';

export interface ReconcileResult {
  /** Reconcile again after this delay (periodic checks, waiting on the outside world). */
  requeueAfterMs?: number;
  /** Reconcile again soon, rate-limited (like an error, without counting as one). */
  requeue?: boolean;
}

export interface ReconcileContext {
  logger: Logger;
  /** Aborted when the controller stops or leadership is lost: stop outside work promptly. */
  signal: AbortSignal;
  /** The controller's clock (tests drive it; reconcilers never read Date.now themselves). */
  clock: Clock;
}

/** An owned kind: a change to an object whose controller reference names an owner of `owner.kind` re-queues that owner. */
export interface OwnsWatch {
  informer: SharedInformer<KubernetesObject>;
  owner: { apiVersion: string; kind: string };
}

/** An outside event source (controller-runtime source.Channel): calls enqueue when something happened. */
export type EventSource = (enqueue: (key: ObjectKey) => void) => void;

export interface ControllerOptions<T> {
  name: string;
  for: SharedInformer<T>;
  watches?: Array<{ informer: SharedInformer<KubernetesObject>; map: (obj: KubernetesObject) => ObjectKey[] }>;
  /** Owned objects (controller-runtime Owns): mapped to their controller owner's key. */
  owns?: OwnsWatch[];
  /** Outside event sources (e.g. the KBS reporting a release): each only re-queues a key. */
  sources?: EventSource[];
  workers?: number;
  reconcile: (key: ObjectKey, ctx: ReconcileContext) => Promise<ReconcileResult | void>;
  /** Per-controller limiter factory (default: client-go's 5 ms..1000 s per item, 10 qps / 100 burst overall). */
  rateLimiter?: () => RateLimiter<string>;
}

export interface ControllerDeps {
  logger: Logger;
  metrics: RuntimeMetrics;
  clock?: Clock;
}

export class Controller<T extends KubernetesObject> {
  readonly name: string;
  readonly workers: number;
  readonly #o: ControllerOptions<T>;
  readonly #log: Logger;
  readonly #metrics: RuntimeMetrics;
  readonly #clock: Clock;
  #queue: WorkQueue<string> | undefined;
  #workerLoops: Promise<void>[] = [];
  #inflight = new Map<string, { abort: AbortController; done: Promise<void> }>();
  #active = 0;

  constructor(opts: ControllerOptions<T>, deps: ControllerDeps) {
    if (!opts.name) throw new TypeError('controller name must not be empty');
    const workers = opts.workers ?? 2;
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`controller ${opts.name}: workers must be a positive integer, got ${workers}`);
    this.name = opts.name;
    this.workers = workers;
    this.#o = opts;
    this.#log = deps.logger.child({ controller: opts.name });
    this.#metrics = deps.metrics;
    this.#clock = deps.clock ?? realClock;
    this.#metrics.initController(this.name, workers);
    const enqueueObj = (obj: T) => this.enqueue(objectKey(obj));
    opts.for.on('add', enqueueObj);
    opts.for.on('update', enqueueObj);
    opts.for.on('delete', enqueueObj);
    const ownerKey = (owner: OwnsWatch['owner']) => (obj: KubernetesObject): ObjectKey[] => {
      const ref = controllerOf(obj, owner);
      const namespace = obj.metadata?.namespace;
      return ref ? [namespace ? { namespace, name: ref.name } : { name: ref.name }] : [];
    };
    const watches = [...(opts.watches ?? []), ...(opts.owns ?? []).map((o) => ({ informer: o.informer, map: ownerKey(o.owner) }))];
    for (const source of opts.sources ?? []) source((key) => this.enqueue(key));
    for (const w of watches) {
      const mapped = (obj: KubernetesObject) => {
        for (const k of w.map(obj)) this.enqueue(k);
      };
      w.informer.on('add', mapped);
      w.informer.on('update', (obj, old) => {
        mapped(obj);
        if (old && old !== obj) mapped(old); // e.g. a label change that moves the object to another owner
      });
      w.informer.on('delete', mapped);
    }
  }

  isRunning(): boolean {
    return this.#queue !== undefined && !this.#queue.isShuttingDown();
  }

  queueLength(): number {
    return this.#queue?.len() ?? 0;
  }

  enqueue(key: ObjectKey): void {
    if (!key.name) return;
    this.#queue?.add(keyToString(key));
  }

  /** Starts workers on a fresh queue seeded with every cached object (level-triggered catch-up). */
  start(): void {
    if (this.isRunning()) return;
    const limiter = this.#o.rateLimiter?.() ?? defaultControllerRateLimiter<string>(this.#clock);
    this.#queue = new WorkQueue<string>({ name: this.name, clock: this.#clock, rateLimiter: limiter, metrics: this.#metrics.queueMetrics(this.name) });
    for (const obj of this.#o.for.list()) this.enqueue(objectKey(obj));
    const queue = this.#queue;
    this.#workerLoops = Array.from({ length: this.workers }, () => this.#worker(queue));
    this.#log.info({ workers: this.workers }, 'controller started');
  }

  /**
   * Stops taking work; waits up to graceMs for in-flight reconciles, then aborts their signals.
   * abortNow aborts signals immediately (leadership lost: others may already be acting).
   */
  async stop(graceMs: number, abortNow = false): Promise<void> {
    const queue = this.#queue;
    if (!queue) return;
    queue.shutDown();
    if (abortNow) for (const f of this.#inflight.values()) f.abort.abort(new Error('leadership lost'));
    const drained = Promise.all(this.#workerLoops).then(() => true);
    let cancelTimer: () => void = () => undefined;
    const timedOut = new Promise<boolean>((resolve) => (cancelTimer = this.#clock.setTimer(() => resolve(false), graceMs)));
    const finished = await Promise.race([drained, timedOut]);
    cancelTimer();
    if (!finished) {
      this.#log.warn({ inflight: [...this.#inflight.keys()] }, 'reconciles still running after the grace period; aborting them');
      for (const f of this.#inflight.values()) f.abort.abort(new Error('controller stopping'));
    }
    this.#log.info('controller stopped');
  }

  async #worker(queue: WorkQueue<string>): Promise<void> {
    for (;;) {
      const next = await queue.get();
      if (next.shutdown) return;
      const key = next.item;
      // A reconcile of this key from a previous worker generation may still be running: never overlap.
      const previous = this.#inflight.get(key);
      if (previous) await previous.done;
      await this.#process(queue, key);
    }
  }

  async #process(queue: WorkQueue<string>, key: string): Promise<void> {
    const abort = new AbortController();
    let finish: () => void = () => undefined;
    const done = new Promise<void>((r) => (finish = r));
    this.#inflight.set(key, { abort, done });
    this.#active++;
    this.#metrics.activeWorkers.set({ controller: this.name }, this.#active);
    const started = this.#clock.now();
    const log = this.#log.child({ key, reconcileID: randomUUID() });
    let result: ReconcileResultLabel = 'success';
    try {
      const res = await this.#o.reconcile(keyFromString(key), { logger: log, signal: abort.signal, clock: this.#clock });
      if (res && res.requeueAfterMs !== undefined && res.requeueAfterMs > 0) {
        queue.forget(key);
        queue.addAfter(key, res.requeueAfterMs);
        result = 'requeue_after';
      } else if (res?.requeue) {
        queue.addRateLimited(key);
        result = 'requeue';
      } else {
        queue.forget(key);
      }
    } catch (err) {
      result = 'error';
      this.#metrics.reconcileErrors.inc({ controller: this.name });
      const retryAfter = retryAfterOf(err);
      if (retryAfter !== undefined) queue.addAfter(key, retryAfter);
      else queue.addRateLimited(key);
      const fields = { err: describeError(err), requeues: queue.numRequeues(key), retryAfterMs: retryAfter };
      if (isConflict(err)) log.info(fields, 'reconcile conflict; retrying with fresh state');
      else log.error(fields, 'reconcile failed');
    } finally {
      this.#metrics.reconcileTotal.inc({ controller: this.name, result });
      this.#metrics.reconcileTime.observe({ controller: this.name }, (this.#clock.now() - started) / 1000);
      queue.done(key);
      this.#active--;
      this.#metrics.activeWorkers.set({ controller: this.name }, this.#active);
      this.#inflight.delete(key);
      finish();
    }
  }
}
