// Maps an ECS DescribeInstances entry (SDK camelCase model) to the provider-neutral InstanceInfo.
import type { InstanceInfo, InstanceState } from '../provider.ts';
import { ownerFromTags, TAG_CLIENT_TOKEN, type Tag } from './tags.ts';

export interface EcsInstance {
  instanceId?: string;
  status?: string;
  zoneId?: string;
  regionId?: string;
  creationTime?: string;
  /** When the instance was last started (minute precision, like creationTime). */
  startTime?: string;
  tags?: { tag?: Array<{ tagKey?: string; tagValue?: string }> };
  vpcAttributes?: { privateIpAddress?: { ipAddress?: string[] } };
  publicIpAddress?: { ipAddress?: string[] };
  networkInterfaces?: { networkInterface?: Array<{ primaryIpAddress?: string }> };
}

const STATES = new Set<InstanceState>(['Pending', 'Starting', 'Running', 'Stopping', 'Stopped']);

export function instanceTags(inst: EcsInstance): Tag[] {
  return (inst.tags?.tag ?? []).flatMap((t) => (t.tagKey !== undefined ? [{ key: t.tagKey, value: t.tagValue ?? '' }] : []));
}

/** ECS times look like `2026-11-21T17:49Z`; normalise to RFC 3339 when parseable. */
function rfc3339(t: string | undefined): string | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export function toInstanceInfo(inst: EcsInstance, preferPublicAddress: boolean): InstanceInfo | undefined {
  if (!inst.instanceId) return undefined;
  const tags = instanceTags(inst);
  const state = STATES.has(inst.status as InstanceState) ? (inst.status as InstanceState) : 'Unknown';
  const privateIp = inst.vpcAttributes?.privateIpAddress?.ipAddress?.[0] ?? inst.networkInterfaces?.networkInterface?.[0]?.primaryIpAddress;
  const publicIp = inst.publicIpAddress?.ipAddress?.[0];
  const address = preferPublicAddress ? (publicIp ?? privateIp) : (privateIp ?? publicIp);
  const info: InstanceInfo = { id: inst.instanceId, state };
  if (address) info.address = address;
  if (inst.zoneId) info.zone = inst.zoneId;
  const createdAt = rfc3339(inst.creationTime);
  if (createdAt) info.createdAt = createdAt;
  const startedAt = rfc3339(inst.startTime);
  if (startedAt) info.startedAt = startedAt;
  const owner = ownerFromTags(tags);
  if (owner) info.owner = owner;
  const token = tags.find((t) => t.key === TAG_CLIENT_TOKEN)?.value;
  if (token) info.token = token;
  return info;
}
