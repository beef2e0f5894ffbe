// An in-memory SharedInformer for unit tests: the test puts and removes objects, handlers fire synchronously.
import type { InformerEvent, InformerHandler, SharedInformer } from '../../src/runtime/informer.ts';
import type { KubernetesObject } from '../../src/runtime/types.ts';

export class MemoryInformer<T extends KubernetesObject = KubernetesObject> implements SharedInformer<T> {
  #objs = new Map<string, T>();
  #h: Record<InformerEvent, InformerHandler<T>[]> = { add: [], update: [], delete: [] };
  #rv = 0;

  /** Adds or replaces an object (by namespace/name); bumps resourceVersion like the API server. */
  set(obj: T): T {
    const key = `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    const old = this.#objs.get(key);
    const stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.#rv) } };
    this.#objs.set(key, stored);
    for (const fn of this.#h[old ? 'update' : 'add']) fn(stored, old);
    return stored;
  }

  /** Shorthand for bare objects: namespace/name plus extra top-level fields. */
  put(namespace: string, name: string, extra: Record<string, unknown> = {}): void {
    this.set({ metadata: { namespace, name }, ...extra } as unknown as T);
  }

  remove(namespace: string, name: string): void {
    const obj = this.#objs.get(`${namespace}/${name}`);
    if (!obj) return;
    this.#objs.delete(`${namespace}/${name}`);
    for (const fn of this.#h.delete) fn(obj);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.#objs.get(`${namespace ?? ''}/${name}`);
  }

  list(namespace?: string): T[] {
    return [...this.#objs.values()].filter((o) => namespace === undefined || o.metadata?.namespace === namespace);
  }

  hasSynced(): boolean {
    return true;
  }

  on(ev: InformerEvent, fn: InformerHandler<T>): void {
    this.#h[ev].push(fn);
  }
}
