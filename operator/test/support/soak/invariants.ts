// The soak's invariants as pure functions over what the simulators and guests recorded: instances per
// agent (from the clouds' own records), instances left without an agent, and every credential a guest
// decrypted checked against who that guest belongs to. Each returns violations; none throws.

export interface InstanceRecord {
  cloud: 'local' | 'ecs';
  id: string;
  ownerUid: string;
  ownerName: string;
  createdAt: number;
  live: boolean;
}

/** What a guest decrypted: the bootstrap resource or a credential, by resource path (never the value). */
export interface DecryptRecord {
  at: number;
  instanceId: string;
  agent: string;
  agentUid: string;
  resourcePath: string;
  via: 'injected' | 'fetched';
}

export type AgentKind = 'good' | 'hardware' | 'scope' | 'kbs' | 'hostile' | 'deny' | 'ecs' | 'deleted';

export interface AgentPlan {
  name: string;
  kind: AgentKind;
  /**
   * Resource paths this agent's guest may decrypt: the bootstrap resource (after a passing appraisal)
   * and the credentials it references whose scope includes it. Empty for guests whose appraisal never
   * passes; only the bootstrap resource for a replaying guest (its first, genuine attestation passes).
   */
  allowed: Set<string>;
}

export interface Violation {
  invariant: string;
  agent: string;
  at: number;
  detail: string;
}

/** ≤ 1 instance ever created per agent UID (spec.instance is immutable, so one per spec generation). */
export function duplicateInstances(records: InstanceRecord[]): Violation[] {
  const byUid = new Map<string, InstanceRecord[]>();
  for (const r of records) byUid.set(r.ownerUid, [...(byUid.get(r.ownerUid) ?? []), r]);
  const out: Violation[] = [];
  for (const [uid, rs] of byUid) {
    if (rs.length <= 1) continue;
    const first = rs[0] as InstanceRecord;
    out.push({ invariant: 'instances-per-agent', agent: first.ownerName, at: Math.max(...rs.map((r) => r.createdAt)), detail: `${rs.length} instances for uid ${uid}: ${rs.map((r) => `${r.cloud}:${r.id}${r.live ? '' : '(deleted)'}`).join(', ')}` });
  }
  return out;
}

/** Live instances whose owner UID is not an existing agent (checked after settling). */
export function orphanInstances(records: InstanceRecord[], liveAgentUids: Set<string>, now: number): Violation[] {
  return records
    .filter((r) => r.live && !liveAgentUids.has(r.ownerUid))
    .map((r) => ({ invariant: 'no-orphans', agent: r.ownerName, at: now, detail: `${r.cloud} instance ${r.id} (uid ${r.ownerUid}) still live without its agent` }));
}

/** Every decrypt by a guest must be of a resource in its agent's allowed set. */
export function decryptViolations(decrypts: DecryptRecord[], plans: Map<string, AgentPlan>): Violation[] {
  const out: Violation[] = [];
  for (const d of decrypts) {
    const plan = plans.get(d.agent);
    const v = (detail: string) => out.push({ invariant: 'release-only-to-attested-in-scope', agent: d.agent, at: d.at, detail: `${d.via} ${d.resourcePath} on ${d.instanceId}: ${detail}` });
    if (!plan) v('guest of an agent the soak never created');
    else if (!plan.allowed.has(d.resourcePath)) v(plan.kind === 'hostile' || plan.kind === 'deny' ? `${plan.kind} guest decrypted something its appraisal never allows` : 'resource not referenced by the agent or not in its scope');
  }
  return out;
}
