// Kubernetes objects as they travel on the wire (JSON): timestamps are RFC 3339 strings, not Dates.
// The informer caches exactly what the API server sent (timestamps are strings). The timestamp fields also
// admit Date so that client-node's KubernetesObject (typed after its deserializer) stays assignable.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
  deletionGracePeriodSeconds?: number;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface KubernetesObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** Identifies one resource type (and optionally the namespace and selectors to watch). group '' is the core group. */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  namespace?: string;
  /** Informers only: watch a subset (label / field selector syntax of the API server). */
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ObjectKey {
  namespace?: string;
  name: string;
}

/** "namespace/name", or "name" for cluster-scoped objects (client-go MetaNamespaceKeyFunc). */
export function keyToString(key: ObjectKey): string {
  return key.namespace ? `${key.namespace}/${key.name}` : key.name;
}

export function keyFromString(s: string): ObjectKey {
  const i = s.indexOf('/');
  return i < 0 ? { name: s } : { namespace: s.slice(0, i), name: s.slice(i + 1) };
}

export function objectKey(obj: KubernetesObject): ObjectKey {
  const name = obj.metadata?.name ?? '';
  const namespace = obj.metadata?.namespace;
  return namespace ? { namespace, name } : { name };
}

export function apiVersionOf(r: Pick<ResourceRef, 'group' | 'version'>): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** URL path of the collection: /api/v1/namespaces/ns/configmaps, /apis/g/v/plural, ... */
export function collectionPath(r: ResourceRef, namespace = r.namespace): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${r.plural}`;
}
