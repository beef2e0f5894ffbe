// Status writes: a JSON merge patch on the /status subresource that also records observedGeneration.
// Pitfall: CustomObjectsApi's patch*Status defaults to Content-Type application/json-patch+json; a merge
// patch body sent that way is rejected, so the content type is set explicitly per call.

import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeClients } from './clients.ts';
import { RuntimeError, toRuntimeError } from './errors.ts';
import type { KubernetesObject, ResourceRef } from './types.ts';

/**
 * Merge-patches obj's status with `status` plus observedGeneration = obj.metadata.generation.
 * Lists (conditions) are replaced whole by a merge patch, so pass the complete list.
 */
export async function patchStatus(client: KubeClients, r: ResourceRef, obj: KubernetesObject & { metadata: { name?: string } }, status: object): Promise<void> {
  const name = obj.metadata.name;
  if (!name) throw new RuntimeError('INVALID_ARGUMENT', `patchStatus(${r.kind}): object has no metadata.name`);
  if (!r.group) throw new RuntimeError('INVALID_ARGUMENT', `patchStatus(${r.kind}): only custom resources are supported (core group has typed APIs)`);
  const namespace = obj.metadata.namespace;
  if (r.namespaced && !namespace) throw new RuntimeError('INVALID_ARGUMENT', `patchStatus(${r.kind}/${name}): namespaced resource without metadata.namespace`);
  const generation = obj.metadata.generation;
  const body = { status: generation === undefined ? { ...status } : { ...status, observedGeneration: generation } };
  const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  try {
    if (r.namespaced && namespace) {
      await client.customObjects.patchNamespacedCustomObjectStatus({ group: r.group, version: r.version, namespace, plural: r.plural, name, body, fieldManager: client.fieldManager }, options);
    } else {
      await client.customObjects.patchClusterCustomObjectStatus({ group: r.group, version: r.version, plural: r.plural, name, body, fieldManager: client.fieldManager }, options);
    }
  } catch (err) {
    throw toRuntimeError(err, `patch status of ${r.kind} ${namespace ? namespace + '/' : ''}${name}`);
  }
}
