// Orphan selection: by owner UID and age, and — for a replica that watches one namespace — only among
// instances owned from that namespace (another shard's agents are invisible to its cache).
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { InstanceInfo } from '../cloud/provider.ts';
import { RuntimeError } from '../runtime/errors.ts';
import { agent, NS } from '../../test/support/agent-fixtures.ts';
import { FakeInstanceProvider } from '../../test/support/fake-provider.ts';
import { MemoryInformer } from '../../test/support/memory-informer.ts';
import { findOrphans, startGarbageCollector } from './garbage-collector.ts';

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

describe('garbage collector sweep', () => {
  it('deletes an orphan only when the API server confirms its agent is gone; a cache that misses a live agent costs it nothing', async () => {
    const provider = new FakeInstanceProvider();
    const owned = async (name: string, uid: string) => (await provider.create({ token: name, owner: { clusterId: 'c', namespace: NS, name, uid }, spec: {} as never, labels: {} })).id;
    const liveId = await owned('live', 'uid-live');
    const goneId = await owned('gone', 'uid-gone');
    const recreatedId = await owned('recreated', 'uid-old');
    const unsureId = await owned('unsure', 'uid-unsure');
    // The cache shows none of them (behind, or relisted from a server that had just restarted).
    const agents = new MemoryInformer<ConfidentialAgent>();
    const onServer: Record<string, ConfidentialAgent | Error> = {
      live: agent('live', {}, { metadata: { name: 'live', namespace: NS, uid: 'uid-live' } }),
      recreated: agent('recreated', {}, { metadata: { name: 'recreated', namespace: NS, uid: 'uid-new' } }),
      unsure: new RuntimeError('API_ERROR', 'GET …: connection refused'),
    };
    const read: string[] = [];
    const gc = startGarbageCollector({
      agents,
      providers: { local: provider },
      clusterId: 'c',
      logger: pino({ level: 'silent' }),
      isLeader: () => true,
      minAgeMs: 0,
      intervalMs: 3_600_000,
      readAgent: async (namespace, name) => {
        read.push(`${namespace}/${name}`);
        const a = onServer[name];
        if (a instanceof Error) throw a;
        return a;
      },
    });
    try {
      expect(await gc.sweep()).toBe(2);
      expect(read.sort()).toEqual([`${NS}/gone`, `${NS}/live`, `${NS}/recreated`, `${NS}/unsure`]);
      const state = (id: string) => provider.instances.get(id)?.state;
      // Gone, or the name now belongs to another agent (another UID): deleted.
      expect([state(goneId), state(recreatedId)]).toEqual(['Deleted', 'Deleted']);
      // Live on the server, or not confirmed either way: kept.
      expect([state(liveId), state(unsureId)]).toEqual(['Running', 'Running']);
    } finally {
      gc.stop();
    }
  });
});
