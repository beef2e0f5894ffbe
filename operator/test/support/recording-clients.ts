// A KubeClients for reconciler unit tests: records every write (status patches, finalizer patches) and
// applies status merge patches to a MemoryInformer, as the API server + watch would. Reads go to informers.
import type { KubeClients } from '../../src/runtime/clients.ts';
import { applyMergePatch } from '../../src/runtime/merge-patch.ts';
import type { KubernetesObject } from '../../src/runtime/types.ts';
import type { MemoryInformer } from './memory-informer.ts';

export interface RecordedWrite {
  verb: 'patchStatus' | 'patch';
  plural: string;
  namespace: string;
  name: string;
  body: unknown;
}

interface PatchArgs {
  plural: string;
  namespace: string;
  name: string;
  body: unknown;
}

/** Clients whose custom-object writes are recorded and applied to the informer of each plural. */
export function recordingClients(stores: Record<string, MemoryInformer<KubernetesObject>>): { clients: KubeClients; writes: RecordedWrite[] } {
  const writes: RecordedWrite[] = [];
  const apply = (verb: RecordedWrite['verb'], a: PatchArgs) => {
    writes.push({ verb, plural: a.plural, namespace: a.namespace, name: a.name, body: a.body });
    const store = stores[a.plural];
    const current = store?.get(a.namespace, a.name);
    if (!store || !current) throw Object.assign(new Error(`${a.plural} ${a.namespace}/${a.name} not found`), { code: 404 });
    const next = applyMergePatch(current, a.body) as KubernetesObject;
    // The API server deletes a terminating object once its last finalizer is gone.
    if (next.metadata?.deletionTimestamp && !next.metadata.finalizers?.length) {
      store.remove(a.namespace, a.name);
      return next;
    }
    return store.set(next);
  };
  const customObjects = {
    patchNamespacedCustomObjectStatus: async (a: PatchArgs) => apply('patchStatus', a),
    patchNamespacedCustomObject: async (a: PatchArgs) => apply('patch', a),
  };
  const unsupported = new Proxy({}, { get: (_t, p) => () => Promise.reject(new Error(`recordingClients: ${String(p)} is not supported in unit tests`)) });
  // Only the calls the reconcilers make are implemented; the rest rejects loudly.
  const clients = { customObjects, core: unsupported, coordination: unsupported, events: unsupported, objects: unsupported, fieldManager: 'test' } as unknown as KubeClients;
  return { clients, writes };
}

/** An EventRecorder that keeps what was emitted. */
export function recordingEvents() {
  const emitted: Array<{ name: string; type: string; reason: string; action: string; note: string }> = [];
  return {
    emitted,
    recorder: {
      emit(obj: KubernetesObject, type: 'Normal' | 'Warning', reason: string, action: string, note: string) {
        emitted.push({ name: obj.metadata?.name ?? '', type, reason, action, note });
      },
      flush: async () => undefined,
    },
  };
}
