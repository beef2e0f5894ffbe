// Status writes: a JSON merge patch on the /status subresource that also records observedGeneration.
// Pitfall: CustomObjectsApi's patch*Status defaults to Content-Type application/json-patch+json; a merge
// patch body sent that way is rejected, so the content type is set explicitly per call.

import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeClients } from './clients.ts';
import { RuntimeError, toRuntimeError } from './errors.ts';
import { isEmptyPatch, mergePatch } from './merge-patch.ts';
import type { KubernetesObject, ResourceRef } from './types.ts';

/**
 * Makes obj's status equal `status` plus observedGeneration = obj.metadata.generation, sent as a merge
 * patch against the status obj carries (fields the caller dropped are deleted). Lists (conditions) are
 * replaced whole, so pass the complete list. Sends nothing when the patch is semantically empty (a
 * resync that changes nothing costs no API write); returns whether a PATCH was sent.
 */
export async function patchStatus(client: KubeClients, r: ResourceRef, obj: KubernetesObject & { metadata: { name?: string } }, status: object, signal?: AbortSignal): Promise<boolean> {
  const name = obj.metadata.name;
  if (!name) throw new RuntimeError('INVALID_ARGUMENT', `patchStatus(${r.kind}): object has no metadata.name`);
  if (!r.group) throw new RuntimeError('INVALID_ARGUMENT', `patchStatus(${r.kind}): only custom resources are supported (core group has typed APIs)`);
  const namespace = obj.metadata.namespace;
  if (r.namespaced && !namespace) throw new RuntimeError('INVALID_ARGUMENT', `patchStatus(${r.kind}/${name}): namespaced resource without metadata.namespace`);
  const generation = obj.metadata.generation;
  const desired = generation === undefined ? { ...status } : { ...status, observedGeneration: generation };
  const patch = mergePatch((obj as { status?: unknown }).status ?? {}, desired);
  if (isEmptyPatch(patch)) return false;
  if (signal?.aborted) throw new RuntimeError('ABORTED', `patch status of ${r.kind} ${name}: reconcile aborted`);
  const body = { status: patch };
  const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  try {
    if (r.namespaced && namespace) {
      await client.customObjects.patchNamespacedCustomObjectStatus({ group: r.group, version: r.version, namespace, plural: r.plural, name, body, fieldManager: client.fieldManager }, options);
    } else {
      await client.customObjects.patchClusterCustomObjectStatus({ group: r.group, version: r.version, plural: r.plural, name, body, fieldManager: client.fieldManager }, options);
    }
    return true;
  } catch (err) {
    throw toRuntimeError(err, `patch status of ${r.kind} ${namespace ? namespace + '/' : ''}${name}`);
  }
}
