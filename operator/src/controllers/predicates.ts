// Event filtering for a controller's primary informer, like controller-runtime's
// GenerationChangedPredicate: an update that changes only status (typically our own status write)
// does not enqueue a reconcile. Periodic resyncs (old and new are the same object) still pass.
import { jsonEqual } from '../runtime/json-equal.ts';
import type { InformerEvent, KubernetesObject, SharedInformer } from '../runtime/manager.ts';

export function metadataOrSpecChanged(old: KubernetesObject | undefined, obj: KubernetesObject): boolean {
  if (!old || old === obj) return true; // add, or a resync
  const a = old.metadata ?? {};
  const b = obj.metadata ?? {};
  if (a.generation === undefined || a.generation !== b.generation) return true;
  return (
    a.deletionTimestamp !== b.deletionTimestamp ||
    !jsonEqual(a.finalizers ?? [], b.finalizers ?? []) ||
    !jsonEqual(a.labels ?? {}, b.labels ?? {}) ||
    !jsonEqual(a.annotations ?? {}, b.annotations ?? {})
  );
}

/** The same informer, but `update` handlers only see updates that pass the predicate. */
export function filterUpdates<T extends KubernetesObject>(
  informer: SharedInformer<T>,
  predicate: (old: T | undefined, obj: T) => boolean = metadataOrSpecChanged,
): SharedInformer<T> {
  return {
    get: (namespace, name) => informer.get(namespace, name),
    list: (namespace) => informer.list(namespace),
    hasSynced: () => informer.hasSynced(),
    on(event: InformerEvent, handler: (obj: T, old?: T) => void) {
      if (event !== 'update') return informer.on(event, handler);
      informer.on('update', (obj, old) => {
        if (predicate(old, obj)) handler(obj, old);
      });
    },
  };
}
