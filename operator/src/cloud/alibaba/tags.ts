// Ownership tags written on every instance we create and read back for recovery and garbage collection.
// An instance is ours only when BOTH the managed-by and the cluster-id tags match.
import type { InstanceOwner } from '../provider.ts';

export const TAG_PREFIX = 'confidential-agent.io/';
export const TAG_MANAGED_BY = `${TAG_PREFIX}managed-by`;
export const MANAGED_BY_VALUE = 'confidential-agent-operator';
export const TAG_CLUSTER_ID = `${TAG_PREFIX}cluster-id`;
export const TAG_NAMESPACE = `${TAG_PREFIX}namespace`;
export const TAG_NAME = `${TAG_PREFIX}name`;
export const TAG_UID = `${TAG_PREFIX}uid`;
export const TAG_CLIENT_TOKEN = `${TAG_PREFIX}client-token`;
/** ECS accepts at most 20 tags per resource. */
export const MAX_TAGS = 20;

export interface Tag {
  key: string;
  value: string;
}

export function ownershipTags(owner: InstanceOwner, token: string): Tag[] {
  return [
    { key: TAG_MANAGED_BY, value: MANAGED_BY_VALUE },
    { key: TAG_CLUSTER_ID, value: owner.clusterId },
    { key: TAG_NAMESPACE, value: owner.namespace },
    { key: TAG_NAME, value: owner.name },
    { key: TAG_UID, value: owner.uid },
    { key: TAG_CLIENT_TOKEN, value: token },
  ];
}

/** The filter that selects exactly this operator's instances in one cluster. */
export function clusterSelector(clusterId: string): Tag[] {
  return [
    { key: TAG_MANAGED_BY, value: MANAGED_BY_VALUE },
    { key: TAG_CLUSTER_ID, value: clusterId },
  ];
}

export function tagMap(tags: readonly Tag[]): Map<string, string> {
  return new Map(tags.map((t) => [t.key, t.value]));
}

/** True only when every selector tag is present with the same value (defense in depth after a tag query). */
export function matchesSelector(tags: readonly Tag[], selector: readonly Tag[]): boolean {
  const m = tagMap(tags);
  return selector.every((s) => m.get(s.key) === s.value);
}

/** Reads the owner back from tags; undefined when any ownership tag is missing. */
export function ownerFromTags(tags: readonly Tag[]): InstanceOwner | undefined {
  const m = tagMap(tags);
  if (m.get(TAG_MANAGED_BY) !== MANAGED_BY_VALUE) return undefined;
  const clusterId = m.get(TAG_CLUSTER_ID);
  const namespace = m.get(TAG_NAMESPACE);
  const name = m.get(TAG_NAME);
  const uid = m.get(TAG_UID);
  if (!clusterId || !namespace || !name || !uid) return undefined;
  return { clusterId, namespace, name, uid };
}
