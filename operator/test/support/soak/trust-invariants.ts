// The soak's trust-material invariants as pure functions over what the soak recorded: every collateral document
// its PCCS served, every attestation and refusal it saw on the hardware agents, every checkpoint the policies
// published, and the fault windows. Each returns violations; none throws.
import type { TdxErrorCode } from '../../../src/attestation/tdx/errors.ts';
import type { Violation } from './invariants.ts';

/** One collateral part the soak's PCCS answered with: when, which part, and its own nextUpdate. */
export interface ServedCollateral {
  at: number;
  part: 'tcb' | 'qe' | 'pckcrl' | 'rootcacrl';
  nextUpdate: number;
}

/** A passing TDX attestation of a hardware agent (status.attestation.verifiedAt, operator clock = this host). */
export interface ObservedPass {
  agent: string;
  at: number;
}

/** A refusal (Attested=False) seen on a hardware agent: its reason and when the soak first saw it. */
export interface ObservedRefusal {
  agent: string;
  reason: string;
  at: number;
}

export type TrustFaultKind = 'pccs-outage' | 'collateral-expiry' | 'rekor-fork';
export interface FaultWindow {
  kind: TrustFaultKind;
  from: number;
  /** Infinity while the fault is still on. */
  to: number;
}

/**
 * Every TDX error code, by whether a genuine quote can get it from trust-material trouble (collateral) or only
 * from bad evidence (evidence). Exhaustive on purpose: a new code must be placed here.
 */
export const TDX_CODE_CLASS: Record<TdxErrorCode, 'collateral' | 'evidence'> = {
  QuoteTruncated: 'evidence', QuoteMalformed: 'evidence', QuoteUnsupportedVersion: 'evidence', QuoteUnsupportedTeeType: 'evidence',
  QuoteUnsupportedKeyType: 'evidence', QuoteUnsupportedBodyType: 'evidence', QuoteVendorMismatch: 'evidence', CertificationDataUnsupported: 'evidence',
  CertificateMalformed: 'evidence', CertificateChainInvalid: 'evidence', CertificateExpired: 'evidence', CertificateNotYetValid: 'evidence',
  CertificateRevoked: 'evidence', RootCaMismatch: 'evidence', CrlMalformed: 'evidence', CrlSignatureInvalid: 'evidence', CrlIssuerMismatch: 'evidence',
  CrlExpired: 'collateral', PckExtensionMalformed: 'evidence', TcbInfoMalformed: 'evidence', TcbInfoSignatureInvalid: 'evidence',
  TcbInfoExpired: 'collateral', QeIdentityMalformed: 'evidence', QeIdentitySignatureInvalid: 'evidence', QeIdentityExpired: 'collateral',
  CollateralUnavailable: 'collateral', QeReportSignatureInvalid: 'evidence', QeReportDataMismatch: 'evidence', QeIdentityMismatch: 'evidence',
  QeTcbNotSupported: 'evidence', QuoteSignatureInvalid: 'evidence', FmspcMismatch: 'evidence', PceIdMismatch: 'evidence', TdxModuleMismatch: 'evidence',
  TcbLevelNotFound: 'evidence', TcbRevoked: 'evidence', TdDebug: 'evidence', EvidenceMalformed: 'evidence', ReportDataMismatch: 'evidence',
  InitDataMismatch: 'evidence', EventLogMalformed: 'evidence', EventLogMissing: 'evidence', RtmrMismatch: 'evidence', UkiNotMeasured: 'evidence',
};

/** Which fault windows make a collateral refusal honest: an outage leaves only CollateralUnavailable; expired collateral its own codes too. */
const PERMITTED_BY: Record<string, TrustFaultKind[]> = {
  CollateralUnavailable: ['pccs-outage', 'collateral-expiry'],
  TcbInfoExpired: ['collateral-expiry'],
  QeIdentityExpired: ['collateral-expiry'],
  CrlExpired: ['collateral-expiry'],
};

/**
 * No attestation passes on expired collateral: a pass at t needs, for every collateral part, a document the
 * PCCS served no later than t + slackMs (the fetch happens during the appraisal that verifiedAt dates) whose
 * nextUpdate is not before t.
 */
export function passesOnExpiredCollateral(passes: ObservedPass[], served: ServedCollateral[], slackMs: number): Violation[] {
  const parts: ServedCollateral['part'][] = ['tcb', 'qe', 'pckcrl', 'rootcacrl'];
  const out: Violation[] = [];
  for (const p of passes) {
    const missing = parts.filter((part) => !served.some((s) => s.part === part && s.at <= p.at + slackMs && p.at <= s.nextUpdate));
    if (missing.length > 0) {
      const latest = Math.max(0, ...served.filter((s) => s.at <= p.at + slackMs && missing.includes(s.part)).map((s) => s.nextUpdate));
      out.push({ invariant: 'no-pass-on-expired-collateral', agent: p.agent, at: p.at, detail: `TDX attestation passed at ${new Date(p.at).toISOString()} while no unexpired ${missing.join(', ')} had been served (latest nextUpdate ${latest ? new Date(latest).toISOString() : 'none'})` });
    }
  }
  return out;
}

/**
 * Refusals of genuine hardware evidence are honest: never an evidence code (the quote is genuine: a collateral
 * or log fault misreported as a forged quote), and a collateral code only while (or lookbackMs after) a fault
 * window that explains it. Refusals that are not TDX codes (PolicyNotReady, WaitingForInstance, ...) pass.
 */
export function dishonestRefusals(refusals: ObservedRefusal[], windows: FaultWindow[], lookbackMs: number): Violation[] {
  const out: Violation[] = [];
  for (const r of refusals) {
    const cls = (TDX_CODE_CLASS as Record<string, 'collateral' | 'evidence' | undefined>)[r.reason];
    if (cls === undefined) continue;
    if (cls === 'evidence') {
      out.push({ invariant: 'honest-refusal', agent: r.agent, at: r.at, detail: `genuine TDX evidence refused ${r.reason}: an evidence failure, no trust-material fault explains it` });
      continue;
    }
    const kinds = PERMITTED_BY[r.reason] ?? [];
    const explained = windows.some((w) => kinds.includes(w.kind) && w.from <= r.at && r.at - lookbackMs <= w.to);
    if (!explained) out.push({ invariant: 'honest-refusal', agent: r.agent, at: r.at, detail: `refused ${r.reason} outside any ${kinds.join('/')} window (lookback ${lookbackMs} ms)` });
  }
  return out;
}

/** A checkpoint a policy published in status.checkpoint, and the log it reads. */
export interface ObservedCheckpoint {
  policy: string;
  treeSize: number;
  rootHash: string;
  at: number;
}

/** Nothing from a forked log is ever accepted: every published checkpoint is the genuine tree's root at its size. */
export function forkedCheckpoints(observed: ObservedCheckpoint[], genuineRoot: (policy: string, treeSize: number) => string | undefined): Violation[] {
  return observed
    .filter((c) => genuineRoot(c.policy, c.treeSize) !== c.rootHash)
    .map((c) => ({ invariant: 'no-forked-checkpoint', agent: c.policy, at: c.at, detail: `policy published checkpoint size ${c.treeSize} root ${c.rootHash}, which is not the genuine log's root at that size (${genuineRoot(c.policy, c.treeSize) ?? 'no such size'})` }));
}

export interface PolicySnapshot {
  name: string;
  /** ReferenceValuesResolved condition. */
  resolved?: { status: string; reason: string; lastTransitionTime?: string };
  hasValues: boolean;
}
export interface AgentSnapshot {
  name: string;
  policy: string;
  attested?: { status: string; reason: string };
  ready?: string;
  verifiedAt?: string;
}

/**
 * At the end of a fork window (after the soak made the operator re-read the log): the forked policy is refused
 * LogInconsistent with no reference values, and each of its agents in `mustRefuse` (those that were Ready on it
 * when the fork began) is refused PolicyNotReady, not Ready.
 */
export function forkRefusals(policy: PolicySnapshot, agents: AgentSnapshot[], mustRefuse: Set<string>, at: number): Violation[] {
  const out: Violation[] = [];
  if (policy.resolved?.status !== 'False' || policy.resolved.reason !== 'LogInconsistent' || policy.hasValues) {
    out.push({ invariant: 'fork-refused', agent: policy.name, at, detail: `during the log fork the policy shows ReferenceValuesResolved=${policy.resolved?.status ?? '?'} ${policy.resolved?.reason ?? ''}${policy.hasValues ? ' with reference values' : ''} (want False LogInconsistent, no values)` });
  }
  for (const a of agents.filter((x) => x.policy === policy.name && mustRefuse.has(x.name))) {
    if (a.ready === 'True' || a.attested?.status !== 'False' || a.attested.reason !== 'PolicyNotReady') {
      out.push({ invariant: 'fork-refused', agent: a.name, at, detail: `during the log fork: Attested=${a.attested?.status ?? '?'} ${a.attested?.reason ?? ''}, Ready=${a.ready ?? '?'} (want Attested=False PolicyNotReady, not Ready)` });
    }
  }
  return out;
}

/**
 * No attestation under a policy the operator knows to be on a forked log: an agent snapshot taken before the
 * policy snapshot that shows the fork may not carry an appraisal dated more than graceMs after the policy's
 * ReferenceValuesResolved went False LogInconsistent (an appraisal already under way may finish).
 */
export function attestedUnderFork(policy: PolicySnapshot, agentsBefore: AgentSnapshot[], graceMs: number, at: number): Violation[] {
  if (policy.resolved?.status !== 'False' || policy.resolved.reason !== 'LogInconsistent') return [];
  const since = Date.parse(policy.resolved.lastTransitionTime ?? '');
  if (!Number.isFinite(since)) return [];
  return agentsBefore
    .filter((a) => a.policy === policy.name && a.attested?.status === 'True' && Date.parse(a.verifiedAt ?? '') > since + graceMs)
    .map((a) => ({ invariant: 'no-attestation-under-forked-log', agent: a.name, at, detail: `attested at ${a.verifiedAt ?? '?'} under ${policy.name}, which has been LogInconsistent since ${policy.resolved?.lastTransitionTime ?? '?'}` }));
}

/** What the leader's metrics said across one PCCS outage. */
export interface OutageRecord {
  at: number;
  leader: string;
  /** The leader held verified collateral valid past the outage's end when it began. */
  warm: boolean;
  /** Same leader, alive and leading from start to end (no kill, no election). */
  stable: boolean;
  /** Another trust fault (expiry) overlapped: collateral refusals then have another cause. */
  overlapped: boolean;
  tdxPasses: number;
  collateralFailures: number;
}

/** Cached collateral keeps attesting: a warm, stable leader refuses nothing for collateral during an outage. */
export function outageRefusals(records: OutageRecord[]): Violation[] {
  return records
    .filter((r) => r.warm && r.stable && !r.overlapped && r.collateralFailures > 0)
    .map((r) => ({ invariant: 'cached-collateral-keeps-attesting', agent: r.leader, at: r.at, detail: `${r.collateralFailures} TDX attestations refused for collateral during a PCCS outage although the leader held unexpired verified collateral (${r.tdxPasses} passed)` }));
}

/** Decrypts by guests of a forked policy's agents while the soak saw that policy LogInconsistent throughout. */
export function releasesUnderFork(decrypts: Array<{ agent: string; at: number; resourcePath: string }>, forkAgents: Set<string>, refusedIntervals: Array<{ from: number; to: number }>, graceMs: number): Violation[] {
  return decrypts
    .filter((d) => forkAgents.has(d.agent) && refusedIntervals.some((i) => d.at > i.from + graceMs && d.at < i.to))
    .map((d) => ({ invariant: 'nothing-released-under-forked-log', agent: d.agent, at: d.at, detail: `guest decrypted ${d.resourcePath} while its policy was refused LogInconsistent` }));
}
