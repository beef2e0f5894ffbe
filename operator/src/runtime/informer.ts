// A shared informer: list + watch one resource into an in-memory cache and fan events out to handlers.
// Written on client-node's Watch (auth, TLS, streaming) rather than its ListWatch, because ListWatch stops
// for good on any error that is not 410/timeout and gives update handlers no old object. Semantics follow
// client-go's reflector:
//  - list (paginated, consistent read), then watch from the list's resourceVersion;
//  - reconnect from the last seen resourceVersion (bookmarks on) when a watch ends or times out;
//  - 410 Gone (HTTP or ERROR event) → relist; the relist diff emits deletes for objects missed while away;
//  - ANY other failure → retry with jittered exponential backoff (800 ms .. 30 s), forever, never exit;
//  - a watchdog aborts an attempt that has made no progress for watchdogMs (hung list, silent stream);
//  - resync() re-delivers every cached object as an update (periodic, resyncPeriodMs).

import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { realClock, sleep, type Clock } from './clock.ts';
import { describeError, httpStatusOf, RuntimeError } from './errors.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { listPage } from './rest.ts';
import { watchStream, type WatchOutcome } from './watch-stream.ts';
import { apiVersionOf, collectionPath, keyToString, objectKey, type KubernetesObject, type ResourceRef } from './types.ts';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (obj: T, old?: T) => void;

export interface SharedInformer<T> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(namespace?: string): T[];
  hasSynced(): boolean;
  on(ev: InformerEvent, fn: InformerHandler<T>): void;
  /**
   * How long the cache has gone without a connected watch (0 while one is open): what it shows may trail
   * the API server by that much. Absent: never behind (in-memory test informers).
   */
  unconfirmedForMs?(): number;
}

export interface InformerOptions {
  kubeConfig: KubeConfig;
  resource: ResourceRef;
  logger: Logger;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-deliver every cached object as an update this often; 0 disables. */
  resyncPeriodMs?: number;
  backoff?: { initialMs?: number; maxMs?: number };
  /** Abort a list/watch attempt that has shown no sign of life for this long (default 120 s). */
  watchdogMs?: number;
  listPageSize?: number;
  metrics?: RuntimeMetrics;
  clock?: Clock;
}

export interface InformerStats {
  lists: number;
  watches: number;
  errors: number;
  gone: number;
  watchdogAborts: number;
  resourceVersion: string;
  lastProgressAt: number;
  lastError?: string;
}

export class Informer<T extends KubernetesObject> implements SharedInformer<T> {
  readonly resource: ResourceRef;
  readonly #o: InformerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #path: string;
  readonly #apiVersion: string;
  readonly #watch: Watch;
  readonly #handlers: Record<InformerEvent, InformerHandler<T>[]> = { add: [], update: [], delete: [] };
  #store = new Map<string, T>();
  #rv = '';
  #synced = false;
  /** When the watch was last lost (or the informer started), undefined while a watch is connected. */
  #lostAt: number | undefined;
  #syncWaiters: Array<() => void> = [];
  #running = false;
  #stop = new AbortController();
  #attempt: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #cancelWatchdog: (() => void) | undefined;
  #cancelResync: (() => void) | undefined;
  #stats: InformerStats;

  constructor(opts: InformerOptions) {
    this.#o = opts;
    this.resource = opts.resource;
    this.#clock = opts.clock ?? realClock;
    this.#path = collectionPath(opts.resource);
    this.#apiVersion = apiVersionOf(opts.resource);
    this.#log = opts.logger.child({ informer: this.#name() });
    this.#watch = new Watch(opts.kubeConfig);
    this.#stats = { lists: 0, watches: 0, errors: 0, gone: 0, watchdogAborts: 0, resourceVersion: '', lastProgressAt: this.#clock.now() };
    this.#lostAt = this.#clock.now();
  }

  unconfirmedForMs(): number {
    return this.#lostAt === undefined ? 0 : Math.max(0, this.#clock.now() - this.#lostAt);
  }

  on(ev: InformerEvent, fn: InformerHandler<T>): void {
    this.#handlers[ev].push(fn);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.#store.get(keyToString(namespace ? { namespace, name } : { name }));
  }

  list(namespace?: string): T[] {
    const all = [...this.#store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  isRunning(): boolean {
    return this.#running;
  }

  stats(): InformerStats {
    return { ...this.#stats, resourceVersion: this.#rv };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stop = new AbortController();
    this.#loop = this.#run();
    this.#scheduleWatchdog();
  }

  /** Resolves once the first list has landed in the cache; rejects if signal aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new RuntimeError('TIMEOUT', `informer ${this.#name()}: not synced before abort`));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stop.abort(new RuntimeError('TIMEOUT', 'informer stopped'));
    this.#attempt?.abort(new RuntimeError('TIMEOUT', 'informer stopped'));
    this.#cancelWatchdog?.();
    this.#cancelResync?.();
    await this.#loop;
  }

  /** Re-delivers every cached object to update handlers (client-go resync). */
  resync(): void {
    for (const obj of [...this.#store.values()]) this.#emit('update', obj, obj);
  }

  #name(): string {
    const r = this.#o.resource;
    return `${r.plural}${r.group ? '.' + r.group : ''}${r.namespace ? '@' + r.namespace : ''}`;
  }

  async #run(): Promise<void> {
    const initial = this.#o.backoff?.initialMs ?? 800;
    const max = this.#o.backoff?.maxMs ?? 30_000;
    let backoff = initial;
    let consecutiveGone = 0; // a 410 right after a fresh list again and again must not spin
    const backoffSleep = async (): Promise<boolean> => {
      const wait = Math.min(backoff * (1 + Math.random()), max); // jitter factor 1.0 like client-go
      backoff = Math.min(backoff * 2, max);
      try {
        await sleep(this.#clock, wait, this.#stop.signal);
        return true;
      } catch {
        return false;
      }
    };
    while (this.#running) {
      const attempt = new AbortController();
      this.#attempt = attempt;
      const startedAt = this.#clock.now();
      try {
        if (!this.#rv) await this.#relist(attempt.signal);
        const outcome = await this.#watchOnce(attempt.signal).finally(() => (this.#lostAt ??= this.#clock.now()));
        if (outcome === 'gone') {
          this.#stats.gone++;
          this.#o.metrics?.informerRestarts.inc({ resource: this.#name(), reason: 'gone' });
          this.#log.info({ resourceVersion: this.#rv }, 'watch resourceVersion expired (410); relisting');
          this.#rv = '';
          if (++consecutiveGone > 1 && !(await backoffSleep())) break;
        } else {
          consecutiveGone = 0;
          if (outcome === 'timeout') this.#o.metrics?.informerRestarts.inc({ resource: this.#name(), reason: 'timeout' });
        }
        // client-go resets backoff after a healthy stretch; a watch that stayed open counts as healthy.
        if (this.#clock.now() - startedAt > 5_000) {
          backoff = initial;
          consecutiveGone = 0;
        }
      } catch (err) {
        this.#attempt = undefined;
        if (!this.#running) break;
        if (httpStatusOf(err) === 410 || (err instanceof RuntimeError && err.code === 'GONE')) {
          this.#stats.gone++;
          this.#rv = '';
          if (++consecutiveGone > 1 && !(await backoffSleep())) break;
          continue;
        }
        const watchdog = attempt.signal.aborted;
        this.#stats.errors++;
        this.#stats.lastError = describeError(err).message;
        this.#o.metrics?.informerRestarts.inc({ resource: this.#name(), reason: watchdog ? 'watchdog' : 'error' });
        this.#log.warn({ err: describeError(err), backoffMs: backoff, synced: this.#synced }, 'list/watch failed; retrying');
        if (!(await backoffSleep())) break;
      } finally {
        this.#attempt = undefined;
      }
    }
  }

  async #relist(signal: AbortSignal): Promise<void> {
    this.#stats.lists++;
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string;
    do {
      const query: Record<string, string> = { limit: String(this.#o.listPageSize ?? 500) };
      if (cont) query['continue'] = cont;
      if (this.#o.labelSelector) query['labelSelector'] = this.#o.labelSelector;
      if (this.#o.fieldSelector) query['fieldSelector'] = this.#o.fieldSelector;
      const page = await listPage<T>(this.#o.kubeConfig, this.#path, query, signal);
      this.#progress();
      // List items of built-in types carry no apiVersion/kind (watch events do): fill them in so every
      // cached object looks the same to handlers (Events need regarding.kind).
      for (const item of page.items) {
        item.apiVersion ??= this.#apiVersion;
        item.kind ??= this.#o.resource.kind;
        stripManagedFields(item);
      }
      items.push(...page.items);
      rv = page.metadata.resourceVersion;
      cont = page.metadata.continue;
    } while (cont);
    this.#replace(items, rv);
  }

  /** Swaps the cache for a fresh list, then emits the differences (deletes for vanished objects). */
  #replace(items: T[], rv: string): void {
    const old = this.#store;
    const next = new Map<string, T>();
    for (const item of items) next.set(keyToString(objectKey(item)), item);
    this.#store = next;
    this.#rv = rv;
    this.#o.metrics?.informerEvents.inc({ resource: this.#name(), type: 'LIST' }, items.length);
    for (const [key, obj] of next) {
      const prev = old.get(key);
      if (!prev) this.#emit('add', obj);
      else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#emit('update', obj, prev);
    }
    for (const [key, prev] of old) if (!next.has(key)) this.#emit('delete', prev);
    if (!this.#synced) {
      this.#synced = true;
      this.#log.info({ objects: next.size, resourceVersion: rv }, 'informer synced');
      const ws = this.#syncWaiters;
      this.#syncWaiters = [];
      for (const w of ws) w();
      this.#scheduleResync();
    }
  }

  #watchOnce(signal: AbortSignal): Promise<WatchOutcome> {
    this.#stats.watches++;
    const query: Record<string, string> = {
      resourceVersion: this.#rv,
      allowWatchBookmarks: 'true',
      // server-side timeout spread over 5..10 min like client-go, so reconnects do not synchronise
      timeoutSeconds: String(300 + Math.floor(Math.random() * 300)),
    };
    if (this.#o.labelSelector) query['labelSelector'] = this.#o.labelSelector;
    if (this.#o.fieldSelector) query['fieldSelector'] = this.#o.fieldSelector;
    return watchStream(this.#watch, this.#path, query, signal, {
      now: () => this.#clock.now(),
      onEvent: (type, obj) => {
        this.#progress();
        return this.#onWatchEvent(type, obj);
      },
      onConnected: () => {
        this.#progress();
        this.#lostAt = undefined;
      },
    });
  }

  /** Applies one watch event; returns 'gone' for 410 or an error for other ERROR events. */
  #onWatchEvent(type: string, raw: unknown): 'gone' | RuntimeError | undefined {
    if (typeof raw !== 'object' || raw === null) return new RuntimeError('API_ERROR', `watch event ${type} without an object`);
    this.#o.metrics?.informerEvents.inc({ resource: this.#name(), type });
    if (type === 'ERROR') {
      const status = raw as { code?: unknown; message?: unknown; reason?: unknown };
      if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') return 'gone';
      const code = typeof status.code === 'number' ? status.code : undefined;
      return new RuntimeError('API_ERROR', `watch error event: ${typeof status.message === 'string' ? status.message : 'unknown'}`, code === undefined ? {} : { status: code });
    }
    const obj = stripManagedFields(raw as T);
    const rv = obj.metadata?.resourceVersion;
    if (type === 'BOOKMARK') {
      if (rv) this.#rv = rv;
      return undefined;
    }
    const key = keyToString(objectKey(obj));
    const prev = this.#store.get(key);
    if (type === 'ADDED' || type === 'MODIFIED') {
      this.#store.set(key, obj);
      if (prev) this.#emit('update', obj, prev);
      else this.#emit('add', obj);
    } else if (type === 'DELETED') {
      this.#store.delete(key);
      this.#emit('delete', obj, prev);
    }
    if (rv) this.#rv = rv;
    return undefined;
  }

  #emit(ev: InformerEvent, obj: T, old?: T): void {
    for (const fn of this.#handlers[ev]) {
      try {
        fn(obj, old);
      } catch (err) {
        this.#log.error({ err: describeError(err), event: ev }, 'informer handler threw; continuing');
      }
    }
  }

  #progress(): void {
    this.#stats.lastProgressAt = this.#clock.now();
  }

  #scheduleWatchdog(): void {
    const limit = this.#o.watchdogMs ?? 120_000;
    const tick = () => {
      if (!this.#running) return;
      const silent = this.#clock.now() - this.#stats.lastProgressAt;
      if (this.#attempt && silent > limit) {
        this.#stats.watchdogAborts++;
        this.#log.warn({ silentMs: silent }, 'watchdog: no progress from list/watch; restarting it');
        this.#attempt.abort(new RuntimeError('TIMEOUT', `watchdog: no progress for ${silent} ms`));
        this.#progress();
      }
      this.#cancelWatchdog = this.#clock.setTimer(tick, Math.max(250, limit / 4));
    };
    this.#cancelWatchdog = this.#clock.setTimer(tick, Math.max(250, limit / 4));
  }

  #scheduleResync(): void {
    const period = this.#o.resyncPeriodMs ?? 0;
    if (!(period > 0)) return;
    const tick = () => {
      if (!this.#running) return;
      this.resync();
      this.#cancelResync = this.#clock.setTimer(tick, period);
    };
    this.#cancelResync = this.#clock.setTimer(tick, period);
  }
}

/**
 * Cached objects drop metadata.managedFields, as controller-runtime's TransformStripManagedFields does:
 * nothing here reads them, every write grows them, and at 1,000 objects they are most of the cache.
 * Writes are patches, so dropping them locally never removes them on the server.
 */
export function stripManagedFields<T extends KubernetesObject>(obj: T): T {
  const meta = obj.metadata as (KubernetesObject['metadata'] & { managedFields?: unknown }) | undefined;
  if (meta && 'managedFields' in meta) delete meta.managedFields;
  return obj;
}
