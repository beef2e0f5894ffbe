// Owned objects: server-side apply with the operator's field manager, and the controller owner
// reference that ties an owned object to its owner (garbage collection, and `owns()` watches).
// Apply sends the full desired object every time; the API server computes the change and keeps
// ownership per field, so two reconciles that want the same thing cause no update.
import { PatchStrategy, type KubernetesObject as ClientObject } from '@kubernetes/client-node';
import type { KubeClients } from './clients.ts';
import { RuntimeError, toRuntimeError } from './errors.ts';
import type { KubernetesObject, OwnerReference } from './types.ts';

export interface ApplyOptions {
  /** Take fields another manager owns (only for fields this operator owns by design). Default true. */
  force?: boolean;
  signal?: AbortSignal;
}

/** Server-side apply of `desired` (apiVersion, kind, metadata.name required); returns the object as stored. */
export async function apply<T extends KubernetesObject>(client: KubeClients, desired: T, opts: ApplyOptions = {}): Promise<T> {
  const what = `${desired.kind ?? '?'} ${desired.metadata?.namespace ? desired.metadata.namespace + '/' : ''}${desired.metadata?.name ?? '?'}`;
  if (!desired.apiVersion || !desired.kind || !desired.metadata?.name) {
    throw new RuntimeError('INVALID_ARGUMENT', `apply(${what}): apiVersion, kind and metadata.name are required`);
  }
  if (opts.signal?.aborted) throw new RuntimeError('ABORTED', `apply(${what}): reconcile aborted`);
  // Server-side apply must not carry server-owned metadata (a stale resourceVersion would be a precondition).
  const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, generation: _g, ...metadata } = desired.metadata;
  // client-node types timestamps as Date; on the wire (and in our types) they are strings: same JSON.
  const body = { ...desired, metadata } as ClientObject;
  try {
    return (await client.objects.patch(body, undefined, undefined, client.fieldManager, opts.force ?? true, PatchStrategy.ServerSideApply)) as unknown as T;
  } catch (err) {
    throw toRuntimeError(err, `apply ${what}`);
  }
}

/**
 * metav1.OwnerReference marking `owner` as the managing controller (controller-runtime SetControllerReference).
 * Without blockOwnerDeletion: setting it needs update on the owner's /finalizers where the
 * OwnerReferencesPermissionEnforcement admission plugin runs (hardened clusters, and the test control plane),
 * and it only matters to foreground deletion of the owner; garbage collection works without it.
 */
export function controllerReference(owner: KubernetesObject): OwnerReference {
  const { apiVersion, kind } = owner;
  const name = owner.metadata?.name;
  const uid = owner.metadata?.uid;
  if (!apiVersion || !kind || !name || !uid) {
    throw new RuntimeError('INVALID_ARGUMENT', `controllerReference: owner needs apiVersion, kind, metadata.name and metadata.uid (got ${kind ?? '?'}/${name ?? '?'})`);
  }
  return { apiVersion, kind, name, uid, controller: true };
}

/** Returns `obj` with `owner` set as its controller reference (replacing any other controller reference). */
export function withControllerReference<T extends KubernetesObject>(obj: T, owner: KubernetesObject): T {
  const ref = controllerReference(owner);
  const others = (obj.metadata?.ownerReferences ?? []).filter((r) => !r.controller && r.uid !== ref.uid);
  return { ...obj, metadata: { ...obj.metadata, ownerReferences: [...others, ref] } };
}

/** The controller owner reference of `obj` when its owner is of `kind` (apiVersion group must match). */
export function controllerOf(obj: KubernetesObject, owner: { apiVersion: string; kind: string }): OwnerReference | undefined {
  const group = (v: string) => (v.includes('/') ? v.slice(0, v.indexOf('/')) : '');
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true && r.kind === owner.kind && group(r.apiVersion) === group(owner.apiVersion));
}
