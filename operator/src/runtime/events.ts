// Kubernetes Events through events.k8s.io/v1 (what `kubectl events` and `kubectl describe` show).
// Like client-go's tools/events: identical events (same object, type, reason, action, note) seen within
// the series window are folded into one Event whose series.count / lastObservedTime are patched, instead
// of creating a new object each time. emit() never throws and never blocks the reconciler.
// Notes must not contain secrets: callers pass human-readable, already-redacted text.

import { randomBytes } from 'node:crypto';
import { PatchStrategy, setHeaderOptions, V1MicroTime, type EventsV1Api, type EventsV1Event } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { realClock, type Clock } from './clock.ts';
import { describeError, isNotFound } from './errors.ts';
import type { KubernetesObject } from './types.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  emit(obj: KubernetesObject, type: EventType, reason: string, action: string, note: string): void;
}

export interface EventsV1RecorderOptions {
  api: EventsV1Api;
  reportingController: string;
  reportingInstance: string;
  logger: Logger;
  clock?: Clock;
  /** Identical events within this window join one series (client-go: 6 minutes). */
  seriesWindowMs?: number;
  maxTracked?: number;
  /** API writes in flight at once (default 4); further writes wait their turn. */
  maxConcurrentWrites?: number;
  /** Writes allowed to wait (default 1000, client-go's broadcaster queue); beyond that events are dropped. */
  maxPendingWrites?: number;
}

interface Tracked {
  namespace: string;
  name: string | undefined; // undefined until the create succeeded
  count: number;
  firstSeen: number;
  lastSeen: number;
  writing: Promise<void> | undefined;
  dirty: boolean;
}

export class EventsV1Recorder implements EventRecorder {
  readonly #o: EventsV1RecorderOptions;
  readonly #clock: Clock;
  readonly #tracked = new Map<string, Tracked>();
  readonly #inflight = new Set<Promise<void>>();
  readonly #waiting: Array<() => void> = [];
  #writing = 0;
  #dropped = 0;

  constructor(opts: EventsV1RecorderOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? realClock;
  }

  emit(obj: KubernetesObject, type: EventType, reason: string, action: string, note: string): void {
    const meta = obj.metadata;
    if (!meta?.name) {
      this.#o.logger.warn({ reason }, 'event for an object without a name dropped');
      return;
    }
    const namespace = meta.namespace || 'default'; // cluster-scoped objects: events go to "default" (client-go)
    const key = JSON.stringify([meta.uid ?? '', obj.kind ?? '', namespace, meta.name, type, reason, action, note]);
    const now = this.#clock.now();
    const window = this.#o.seriesWindowMs ?? 6 * 60_000;
    let t = this.#tracked.get(key);
    if (t && now - t.lastSeen > window) {
      this.#tracked.delete(key);
      t = undefined;
    }
    if (!t) {
      this.#evict();
      t = { namespace, name: undefined, count: 1, firstSeen: now, lastSeen: now, writing: undefined, dirty: true };
      this.#tracked.set(key, t);
    } else {
      t.count++;
      t.lastSeen = now;
      t.dirty = true;
    }
    this.#schedule(key, t, obj, type, reason, action, note);
  }

  /** Resolves when every write started so far has finished (used on shutdown and in tests). */
  async flush(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  #schedule(key: string, t: Tracked, obj: KubernetesObject, type: EventType, reason: string, action: string, note: string): void {
    if (t.writing) return; // the running write loop picks the new count up
    if (this.#waiting.length >= (this.#o.maxPendingWrites ?? 1000)) {
      if (this.#dropped++ % 100 === 0) this.#o.logger.warn({ dropped: this.#dropped }, 'event backlog full; dropping events');
      if (!t.name) this.#tracked.delete(key);
      return;
    }
    const p = (async () => {
      while (t.dirty) {
        t.dirty = false;
        await this.#acquire();
        try {
          if (!t.name) await this.#create(t, obj, type, reason, action, note);
          else await this.#patchSeries(t);
        } catch (err) {
          if (t.name && isNotFound(err)) {
            t.name = undefined; // the Event expired (TTL): start a new one
            t.dirty = true;
            continue;
          }
          this.#o.logger.warn({ err: describeError(err), reason, object: `${t.namespace}/${obj.metadata?.name ?? ''}` }, 'writing an event failed');
          if (!t.name) this.#tracked.delete(key);
          return;
        } finally {
          this.#release();
        }
      }
    })().finally(() => {
      t.writing = undefined;
      this.#inflight.delete(p);
    });
    t.writing = p;
    this.#inflight.add(p);
  }

  async #create(t: Tracked, obj: KubernetesObject, type: EventType, reason: string, action: string, note: string): Promise<void> {
    const meta = obj.metadata ?? {};
    const name = `${(meta.name ?? 'object').slice(0, 200)}.${randomBytes(8).toString('hex')}`;
    const count = t.count;
    const body: EventsV1Event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace: t.namespace },
      eventTime: new V1MicroTime(t.firstSeen),
      reportingController: this.#o.reportingController.slice(0, 253),
      reportingInstance: this.#o.reportingInstance.slice(0, 128),
      action: action.slice(0, 128),
      reason: reason.slice(0, 128),
      note: note.length > 1024 ? note.slice(0, 1021) + '...' : note,
      type,
      regarding: {
        ...(obj.apiVersion ? { apiVersion: obj.apiVersion } : {}),
        ...(obj.kind ? { kind: obj.kind } : {}),
        name: meta.name ?? '',
        ...(meta.namespace ? { namespace: meta.namespace } : {}),
        ...(meta.uid ? { uid: meta.uid } : {}),
        ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
      },
    };
    if (count > 1) body.series = { count, lastObservedTime: new V1MicroTime(t.lastSeen) };
    await this.#o.api.createNamespacedEvent({ namespace: t.namespace, body });
    t.name = name;
  }

  async #patchSeries(t: Tracked): Promise<void> {
    const body = { series: { count: t.count, lastObservedTime: new V1MicroTime(t.lastSeen) } };
    await this.#o.api.patchNamespacedEvent({ name: t.name ?? '', namespace: t.namespace, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }

  #acquire(): Promise<void> {
    if (this.#writing < (this.#o.maxConcurrentWrites ?? 4)) {
      this.#writing++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve)); // the slot is handed over by #release
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#writing--;
  }

  #evict(): void {
    const max = this.#o.maxTracked ?? 4096;
    if (this.#tracked.size < max) return;
    let oldestKey: string | undefined;
    let oldest = Infinity;
    for (const [k, v] of this.#tracked) {
      if (!v.writing && v.lastSeen < oldest) {
        oldest = v.lastSeen;
        oldestKey = k;
      }
    }
    if (oldestKey !== undefined) this.#tracked.delete(oldestKey);
  }
}
