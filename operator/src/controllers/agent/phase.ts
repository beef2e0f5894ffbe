// The one shape of an agent lifecycle phase (karpenter's NodeClaim lifecycle sub-reconcilers): each phase
// owns one condition and returns that condition, its own status fields, Events and when to look again.
// The controller loops over the list in order; everything else — Unknown seeding, "waiting for the
// previous phase", Ready, the earliest requeue, the finalizer order — is derived from that one list.
// Adding a phase is one file plus one list entry (see docs/architecture.md, "Adding a phase").
import type { Logger } from 'pino';
import type { ConfidentialAgent, ConfidentialAgentStatus } from '../../api/confidential-agent.ts';
import type { InstanceInfo } from '../../cloud/provider.ts';
import type { InjectResult } from '../../release/challenge.ts';
import type { Clock } from '../../runtime/clock.ts';

export interface ConditionInput {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface PhaseEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  note: string;
}

/** What one phase learned that later phases of the same reconcile use (never persisted: status is). */
export interface AgentFacts {
  /** The sandbox policy the instance launches with (sandbox-policy): document, digest and the init-data naming it. */
  sandboxPolicy?: { digest: string; document: string; initData: string };
  /** The provider's view of the running instance (provision). */
  instance?: InstanceInfo;
  /** The attested guest (attest): pushes a resource, each push a fresh attestation bound to its TEE key. */
  guest?: {
    push(resourcePath: string, plaintext: Uint8Array): Promise<InjectResult>;
    /** Why the guest was attested in this reconcile; undefined when the last attestation still holds. */
    attestedBecause?: string;
    /**
     * Deliveries recorded before this attestation do not count: attested for the first time on this
     * instance, after it rebooted (it holds nothing), or to make a KBS guest fetch rotated credentials.
     */
    newInstance?: boolean;
  };
}

export interface PhaseContext {
  logger: Logger;
  /** Aborted when the controller stops or leadership is lost. */
  signal: AbortSignal;
  clock: Clock;
  /** The reconcile's single point in time (conditions and status timestamps agree). */
  now: Date;
  facts: Readonly<AgentFacts>;
}

export interface PhaseResult {
  /** Status of the phase's own condition (its type is the phase's). */
  condition: Omit<ConditionInput, 'type'>;
  /** The status fields this phase owns; merged over the agent's status. */
  status?: Partial<Omit<ConfidentialAgentStatus, 'conditions' | 'observedGeneration'>>;
  events?: PhaseEvent[];
  /** Look again after this long (the controller takes the earliest of all phases). */
  requeueAfterMs?: number;
  facts?: Partial<AgentFacts>;
  /** Write status before the next phase runs (a peer of the next phase reads it, e.g. the KBS the address). */
  persistBeforeNext?: boolean;
}

export interface FinalizeResult {
  /** True once the phase holds nothing outside the cluster any more. */
  done: boolean;
  requeueAfterMs?: number;
  events?: PhaseEvent[];
}

export interface Phase {
  /** Short name for logs. */
  readonly name: string;
  /** The condition type this phase owns. */
  readonly condition: string;
  /** Reason and message later phases carry while this phase is not True. */
  readonly blocks: { reason: string; message: string };
  reconcile(agent: ConfidentialAgent, ctx: PhaseContext): Promise<PhaseResult>;
  /**
   * An earlier phase is not True this reconcile (`waiting` is what this phase would carry). A phase that
   * exposes something withdraws it here (the endpoint revokes its gateway); without this hook the phase
   * simply carries `waiting`. Its condition status must not be True.
   */
  blocked?(agent: ConfidentialAgent, ctx: PhaseContext, waiting: { reason: string; message: string }): Promise<PhaseResult>;
  /** The agent is being deleted: release what the phase holds (run in reverse list order). */
  finalize?(agent: ConfidentialAgent, ctx: PhaseContext): Promise<FinalizeResult>;
}

export const READY = 'Ready';

/** Retry delay after a refusal the next reconcile may not see differently (no hot loops). */
export const RETRY_AFTER_FAILURE_MS = 30_000;

/** `namespace/name` of an agent (the KBS's and the logs' key). */
export const agentKey = (a: ConfidentialAgent): string => `${a.metadata.namespace ?? ''}/${a.metadata.name}`;

/** A phase ran without the facts an earlier phase provides: the list is in the wrong order (a bug, not input). */
export class PhaseOrderError extends Error {
  readonly code = 'PhaseOrder';
  constructor(phase: string, needs: string) {
    super(`${phase} phase: no ${needs} (a phase that provides it must come earlier in the lifecycle list)`);
    this.name = 'PhaseOrderError';
  }
}

/** Ready (kstatus): True only when every phase's condition is True; else the first phase that is not. */
export function summariseReady(phases: readonly Pick<Phase, 'condition'>[], conditions: readonly { type: string; status: string; reason: string; message: string }[]): ConditionInput {
  for (const { condition: type } of phases) {
    const c = conditions.find((x) => x.type === type);
    if (!c) return { type: READY, status: 'Unknown', reason: 'Reconciling', message: `${type} has not been evaluated yet` };
    if (c.status !== 'True') return { type: READY, status: c.status === 'Unknown' ? 'Unknown' : 'False', reason: c.reason, message: `${type}: ${c.message}` };
  }
  return { type: READY, status: 'True', reason: 'AgentReady', message: `${phases.map((p) => p.condition).join(', ')}: all True` };
}

/** The earliest of several optional requeue delays. */
export function earliest(delays: ReadonlyArray<number | undefined>): number | undefined {
  const set = delays.filter((d): d is number => d !== undefined && d > 0);
  return set.length ? Math.min(...set) : undefined;
}
