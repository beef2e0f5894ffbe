// Deletion (the provision phase's finalize): delete the agent's instance and confirm it is gone before the finalizer is removed,
// so no paid instance outlives its object. The instance is found by status id and by token (it may
// have been created by a reconcile that crashed before writing status).
import type { ConfidentialAgent } from '../../api/confidential-agent.ts';
import type { InstanceProvider, ProviderName } from '../../cloud/provider.ts';
import { instanceToken } from './instance-token.ts';
import { pollIntervalMs } from '../../cloud/provider-set.ts';

export interface DeletionOutcome {
  /** True once no instance remains: the finalizer may go. */
  gone: boolean;
  requeueAfterMs?: number;
  deletedIds: string[];
}

export async function deleteInstance(
  agent: ConfidentialAgent,
  providerName: ProviderName,
  provider: InstanceProvider,
  clusterId: string,
  signal?: AbortSignal,
): Promise<DeletionOutcome> {
  const uid = agent.metadata.uid ?? '';
  const owner = { clusterId, namespace: agent.metadata.namespace ?? '', name: agent.metadata.name, uid };
  const ids = new Set<string>();
  if (agent.status?.instance?.id) ids.add(agent.status.instance.id);
  // The token binds the sandbox policy digest the instance launched with: try every digest the agent knew
  // (an instance created by a reconcile that crashed before writing status; the leader's GC is the backstop).
  const digests = new Set([undefined, agent.status?.instance?.sandboxPolicyDigest, agent.status?.sandboxPolicy?.digest, agent.spec.sandboxPolicy?.digest]);
  for (const digest of digests) {
    const byToken = await provider.findByToken(instanceToken(uid, agent.spec.instance, digest), owner, signal);
    if (byToken) ids.add(byToken.id);
  }
  const remaining: string[] = [];
  for (const id of ids) {
    const info = await provider.describe(id, signal);
    if (!info || info.state === 'Deleted') continue;
    remaining.push(id);
    if (info.state !== 'Stopping') await provider.delete(id, signal);
  }
  return remaining.length === 0
    ? { gone: true, deletedIds: [] }
    : { gone: false, deletedIds: remaining, requeueAfterMs: pollIntervalMs(providerName) };
}
