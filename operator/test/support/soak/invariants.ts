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
  /** Id of the TEE key the guest decrypted under (sim/guest teeKeyId). */
  teeKey?: string;
}

/**
 * A passing appraisal seen from outside the operator, with the TEE key it bound: challenge mode, the
 * operator's commit to an injection session whose prepare evidence (checked by the soak) binds that key;
 * KBS mode, an EAR token the KBS issued naming that key. `bound` false: the evidence did not bind it.
 */
export interface AppraisalRecord {
  at: number;
  instanceId: string;
  agent: string;
  teeKey: string;
  via: 'challenge' | 'kbs';
  passed: boolean;
  bound: boolean;
}

export type AgentKind = 'good' | 'hardware' | 'scope' | 'kbs' | 'hostile' | 'kbs-hostile' | 'deny' | 'ecs' | 'deleted';

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
    else if (!plan.allowed.has(d.resourcePath))
      v(plan.kind === 'kbs-hostile' ? 'hostile KBS guest was released a resource' : plan.kind === 'hostile' || plan.kind === 'deny' ? `${plan.kind} guest decrypted something its appraisal never allows` : 'resource not referenced by the agent or not in its scope');
  }
  return out;
}

/**
 * Every decrypt happened under a TEE key that a passing appraisal bound, on the same instance, during
 * the guest's current boot (`boots`: instance id -> boot start times; a rebooted guest's keys are new,
 * and nothing appraised before the reboot may cover them), before the decrypt.
 */
export function decryptsUnderAppraisedKey(decrypts: DecryptRecord[], appraisals: AppraisalRecord[], boots: Map<string, number[]>): Violation[] {
  const byInstance = new Map<string, AppraisalRecord[]>();
  for (const a of appraisals) byInstance.set(a.instanceId, [...(byInstance.get(a.instanceId) ?? []), a]);
  const out: Violation[] = [];
  for (const d of decrypts) {
    const bootStart = Math.max(0, ...(boots.get(d.instanceId) ?? []).filter((t) => t <= d.at));
    const v = (detail: string) => out.push({ invariant: 'decrypt-under-appraised-key', agent: d.agent, at: d.at, detail: `${d.via} ${d.resourcePath} on ${d.instanceId} under key ${d.teeKey ?? 'unknown'}: ${detail}` });
    if (!d.teeKey) {
      v('the guest did not log its TEE key');
      continue;
    }
    const same = (byInstance.get(d.instanceId) ?? []).filter((a) => a.teeKey === d.teeKey && a.at <= d.at);
    if (same.length === 0) v('no appraisal bound this key');
    else if (!same.some((a) => a.at >= bootStart)) v(`the key's appraisal predates the guest's boot at ${new Date(bootStart).toISOString()}`);
    else if (!same.some((a) => a.at >= bootStart && a.bound)) v('the evidence of its appraisal did not bind this key');
    else if (!same.some((a) => a.at >= bootStart && a.bound && a.passed)) v('its appraisal did not pass');
  }
  return out;
}

/** After settling: what the guest holds of a credential, against the latest value the soak sealed. */
export interface Holding {
  agent: string;
  mode: 'Challenge' | 'KBS';
  credential: string;
  resourcePath: string;
  /** Version tag and SHA-256 of the latest sealed value (never the value). */
  wantTag: string;
  wantDigest: string;
  /** SHA-256 of what the guest last decrypted at that path; undefined when it holds nothing there. */
  gotDigest: string | undefined;
  /** Version tag of the digest the guest holds, when it is a value the soak sealed earlier. */
  gotTag: string | undefined;
}

/** Each credential's latest value is what the guest last decrypted (rotations reach the guest). */
export function staleHoldings(holdings: Holding[], now: number): Violation[] {
  return holdings
    .filter((h) => h.gotDigest !== h.wantDigest)
    .map((h) => ({
      invariant: 'latest-value-delivered',
      agent: h.agent,
      at: now,
      detail: `${h.mode} ${h.credential} at ${h.resourcePath}: guest holds ${h.gotDigest === undefined ? 'nothing' : `version ${h.gotTag ?? 'unknown'}`}, latest is ${h.wantTag}`,
    }));
}
