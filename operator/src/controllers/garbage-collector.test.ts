// Orphan selection: by owner UID and age, and — for a replica that watches one namespace — only among
// instances owned from that namespace (another shard's agents are invisible to its cache).
import { describe, expect, it } from 'vitest';
import type { InstanceInfo } from '../cloud/provider.ts';
import { findOrphans } from './garbage-collector.ts';

const inst = (id: string, namespace: string, uid: string, createdAt = '2026-01-01T00:00:00Z'): InstanceInfo => ({ id, state: 'Running', createdAt, owner: { clusterId: 'c', namespace, name: id, uid } });
const now = Date.parse('2026-01-01T01:00:00Z');

describe('findOrphans', () => {
  it('picks instances whose agent UID is gone, once old enough; never deleted or ownerless ones', () => {
    const all = [inst('live', 'a', 'u1'), inst('gone', 'a', 'u2'), inst('young', 'a', 'u3', '2026-01-01T00:59:50Z'), { ...inst('deleted', 'a', 'u4'), state: 'Deleted' as const }, { id: 'untagged', state: 'Running' as const }];
    expect(findOrphans(all, new Set(['u1']), 30_000, now).map((i) => i.id)).toEqual(['gone']);
  });

  it('a namespace-scoped replica leaves instances owned from other namespaces alone', () => {
    const all = [inst('mine-gone', 'team-a', 'u1'), inst('other-shard', 'team-b', 'u2')];
    expect(findOrphans(all, new Set(), 0, now).map((i) => i.id)).toEqual(['mine-gone', 'other-shard']);
    expect(findOrphans(all, new Set(), 0, now, 'team-a').map((i) => i.id)).toEqual(['mine-gone']);
  });
});
