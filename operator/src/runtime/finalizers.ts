// Finalizers with optimistic concurrency: a merge patch that carries metadata.resourceVersion, so the
// API server refuses it (409 → RuntimeError CONFLICT → the controller requeues) when the object changed
// since it was read. Without the precondition a merge patch of the whole list could drop a finalizer
// another controller added concurrently.

import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeClients } from './clients.ts';
import { isNotFound, RuntimeError, toRuntimeError } from './errors.ts';
import { apiVersionOf, type KubernetesObject, type ResourceRef } from './types.ts';

type Obj = KubernetesObject & { metadata: { name?: string } };

/** Adds finalizer (no-op if present); returns the object as the API server stored it. */
export async function addFinalizer<T extends Obj>(client: KubeClients, r: ResourceRef, obj: T, finalizer: string): Promise<T> {
  const current = obj.metadata.finalizers ?? [];
  if (current.includes(finalizer)) return obj;
  if (obj.metadata.deletionTimestamp) {
    throw new RuntimeError('INVALID_ARGUMENT', `addFinalizer(${finalizer}): ${describe(r, obj)} is being deleted; the API server forbids new finalizers`);
  }
  return (await patchFinalizers(client, r, obj, [...current, finalizer])) as T;
}

/** Removes finalizer (no-op if absent or if the object is already gone). */
export async function removeFinalizer(client: KubeClients, r: ResourceRef, obj: Obj, finalizer: string): Promise<void> {
  const current = obj.metadata.finalizers ?? [];
  if (!current.includes(finalizer)) return;
  try {
    await patchFinalizers(client, r, obj, current.filter((f) => f !== finalizer));
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
}

async function patchFinalizers(client: KubeClients, r: ResourceRef, obj: Obj, finalizers: string[]): Promise<KubernetesObject> {
  const name = obj.metadata.name;
  const namespace = obj.metadata.namespace;
  const resourceVersion = obj.metadata.resourceVersion;
  if (!name) throw new RuntimeError('INVALID_ARGUMENT', `finalizer patch (${r.kind}): object has no metadata.name`);
  if (!resourceVersion) throw new RuntimeError('INVALID_ARGUMENT', `finalizer patch: ${describe(r, obj)} has no resourceVersion to use as precondition`);
  const metadata = { finalizers, resourceVersion };
  const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  try {
    if (r.group) {
      const body = { metadata };
      const params = { group: r.group, version: r.version, plural: r.plural, name, body, fieldManager: client.fieldManager };
      const out: unknown =
        r.namespaced && namespace
          ? await client.customObjects.patchNamespacedCustomObject({ ...params, namespace }, options)
          : await client.customObjects.patchClusterCustomObject(params, options);
      return out as KubernetesObject;
    }
    // Core group: the generic object API (its default strategic merge would ignore the precondition semantics we want).
    const spec = { apiVersion: apiVersionOf(r), kind: r.kind, metadata: { name, ...(namespace ? { namespace } : {}), ...metadata } };
    const out = await client.objects.patch(spec, undefined, undefined, client.fieldManager, undefined, PatchStrategy.MergePatch);
    return JSON.parse(JSON.stringify(out)) as KubernetesObject; // back to wire JSON (strings, not Dates)
  } catch (err) {
    throw toRuntimeError(err, `update finalizers of ${describe(r, obj)}`);
  }
}

function describe(r: ResourceRef, obj: Obj): string {
  return `${r.kind} ${obj.metadata.namespace ? obj.metadata.namespace + '/' : ''}${obj.metadata.name ?? '?'}`;
}
