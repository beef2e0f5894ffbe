// Orphan garbage collection: an instance carrying this cluster's ownership tags whose owning agent
// (matched by UID, not name) no longer exists is deleted. Instances without our tags are never listed
// by providers, so they are never touched. Runs only on the leader, after the caches have synced.
import type { Logger } from 'pino';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { InstanceInfo } from '../cloud/provider.ts';
import type { SharedInformer } from '../runtime/manager.ts';
import type { ProviderSet } from '../cloud/provider-set.ts';

export interface GarbageCollectorOptions {
  agents: SharedInformer<ConfidentialAgent>;
  providers: ProviderSet;
  clusterId: string;
  logger: Logger;
  isLeader: () => boolean;
  intervalMs?: number;
  /** Instances younger than this are left alone (a cache may not show their agent yet). */
  minAgeMs?: number;
  /**
   * The one namespace this replica watches (--namespace), if any: its cache cannot see agents elsewhere,
   * so instances owned from other namespaces are not its to judge (another shard's, say).
   */
  namespace?: string;
  /**
   * The owner as the API server has it now (a quorum GET). An instance is deleted only when this confirms
   * its agent is gone: a cache that misses a live agent (behind, or relisted from a server that had just
   * restarted) must never cost that agent its running instance. Absent: the cache's word is taken (unit tests).
   */
  readAgent?: (namespace: string, name: string) => Promise<ConfidentialAgent | undefined>;
  now?: () => number;
}

export function findOrphans(instances: InstanceInfo[], liveUids: ReadonlySet<string>, minAgeMs: number, now: number, namespace?: string): InstanceInfo[] {
  return instances.filter((i) => {
    if (!i.owner || liveUids.has(i.owner.uid) || i.state === 'Deleted') return false;
    if (namespace !== undefined && i.owner.namespace !== namespace) return false;
    const created = i.createdAt ? Date.parse(i.createdAt) : NaN;
    return Number.isNaN(created) || now - created >= minAgeMs;
  });
}

export function startGarbageCollector(opts: GarbageCollectorOptions): { sweep(): Promise<number>; stop(): void } {
  const now = opts.now ?? Date.now;
  let running = false;
  async function ownerConfirmedGone(orphan: InstanceInfo): Promise<boolean> {
    const owner = orphan.owner!;
    if (!opts.readAgent) return true;
    try {
      const live = await opts.readAgent(owner.namespace, owner.name);
      if (live?.metadata.uid !== owner.uid) return true;
      opts.logger.warn({ instance: orphan.id, owner }, 'the cache missed a live agent; its instance is kept');
    } catch (err) {
      opts.logger.warn({ instance: orphan.id, owner, err: String(err) }, 'could not confirm the owner is gone; instance kept until the next sweep');
    }
    return false;
  }
  async function sweep(): Promise<number> {
    if (running || !opts.isLeader() || !opts.agents.hasSynced()) return 0;
    running = true;
    let deleted = 0;
    try {
      const live = new Set(opts.agents.list().flatMap((a) => (a.metadata.uid ? [a.metadata.uid] : [])));
      for (const [name, provider] of Object.entries(opts.providers)) {
        if (!provider) continue;
        try {
          const orphans = findOrphans(await provider.listOwned(opts.clusterId), live, opts.minAgeMs ?? 30_000, now(), opts.namespace);
          for (const orphan of orphans) {
            if (!(await ownerConfirmedGone(orphan))) continue;
            opts.logger.warn({ provider: name, instance: orphan.id, owner: orphan.owner }, 'deleting orphaned instance');
            await provider.delete(orphan.id);
            deleted++;
          }
        } catch (err) {
          opts.logger.error({ provider: name, err: String(err) }, 'garbage collection sweep failed; will retry');
        }
      }
    } finally {
      running = false;
    }
    return deleted;
  }
  const timer = setInterval(() => void sweep(), opts.intervalMs ?? 60_000);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
