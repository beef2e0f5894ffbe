// ConfidentialAgent reconciler: a loop over the lifecycle phases (phase.ts). Thin by design: read the
// cache, run the phases in order, write status once (or earlier when a phase asks), emit Events. From the
// one phase list it derives the Unknown seeding, the "waiting for the previous phase" cascade, Ready,
// the earliest requeue and the finalizer order. Every phase is idempotent.
import type { ConfidentialAgent, ConfidentialAgentStatus } from '../../api/confidential-agent.ts';
import { ensureConditions, setCondition } from '../../runtime/conditions.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import { addFinalizer, removeFinalizer } from '../../runtime/finalizers.ts';
import type { KubeClients, ObjectKey, ReconcileContext, ReconcileResult, SharedInformer } from '../../runtime/manager.ts';
import { patchStatus } from '../../runtime/status.ts';
import { AgentReason, EventAction } from '../../api/conditions.ts';
import { AGENTS, FINALIZER } from '../resources.ts';
import { earliest, READY, summariseReady, type AgentFacts, type ConditionInput, type Phase, type PhaseContext, type PhaseEvent } from './phase.ts';

export interface AgentControllerDeps {
  agents: SharedInformer<ConfidentialAgent>;
  clients: KubeClients;
  events: EventRecorder;
  /** The lifecycle, in order: [sandbox-policy, provision, attest, release] in the operator. */
  phases: readonly Phase[];
}

export function agentReconciler(deps: AgentControllerDeps) {
  const { phases } = deps;
  const conditionTypes = [READY, ...phases.map((p) => p.condition)];

  return async function reconcile(key: ObjectKey, rctx: ReconcileContext): Promise<ReconcileResult | void> {
    const agent = deps.agents.get(key.namespace, key.name);
    if (!agent) return;
    const now = new Date(rctx.clock.now());
    const facts: AgentFacts = {};
    const ctx: PhaseContext = { logger: rctx.logger, signal: rctx.signal, clock: rctx.clock, now, facts };
    const emit = (events: readonly PhaseEvent[] | undefined) => {
      for (const e of events ?? []) deps.events.emit(agent, e.type, e.reason, e.action, e.note);
    };

    if (agent.metadata.deletionTimestamp) {
      if (!agent.metadata.finalizers?.includes(FINALIZER)) return;
      // Reverse order: what a later phase holds goes before what it was built on.
      const requeues: Array<number | undefined> = [];
      let done = true;
      for (const phase of [...phases].reverse()) {
        if (!phase.finalize) continue;
        const r = await phase.finalize(agent, ctx);
        emit(r.events);
        if (!r.done) {
          done = false;
          requeues.push(r.requeueAfterMs);
        }
      }
      if (!done) return { requeueAfterMs: earliest(requeues) ?? 5_000 };
      await removeFinalizer(deps.clients, AGENTS, agent, FINALIZER);
      deps.events.emit(agent, 'Normal', AgentReason.InstanceDeleted, EventAction.Delete, 'instance deleted; finalizer removed');
      return;
    }

    const generation = agent.metadata.generation;
    // kstatus: every condition the object will ever carry exists from the first visit on.
    let conditions = ensureConditions(agent.status?.conditions, conditionTypes, generation, now);
    const set = (c: ConditionInput) => (conditions = setCondition(conditions, c, generation, now));
    const status: ConfidentialAgentStatus = { ...agent.status };
    let current: ConfidentialAgent = agent.metadata.finalizers?.includes(FINALIZER) || !phases.some((p) => p.finalize) ? agent : await addFinalizer(deps.clients, AGENTS, agent, FINALIZER);
    let written = current;
    const requeues: Array<number | undefined> = [];
    let blockedBy: Phase | undefined;

    for (const phase of phases) {
      if (blockedBy) {
        if (!phase.blocked) {
          set({ type: phase.condition, status: 'False', ...blockedBy.blocks });
          continue;
        }
        // The phase withdraws what it exposes (revocation) and says why; it can never be True here.
        const r = await phase.blocked({ ...current, status: { ...status, conditions } }, ctx, blockedBy.blocks);
        set({ type: phase.condition, ...r.condition, ...(r.condition.status === 'True' ? { status: 'False' as const } : {}) });
        Object.assign(status, r.status);
        emit(r.events);
        requeues.push(r.requeueAfterMs);
        continue;
      }
      const r = await phase.reconcile({ ...current, status: { ...status, conditions } }, ctx);
      set({ type: phase.condition, ...r.condition });
      Object.assign(status, r.status);
      Object.assign(facts, r.facts);
      emit(r.events);
      requeues.push(r.requeueAfterMs);
      if (r.condition.status !== 'True') blockedBy = phase;
      else if (r.persistBeforeNext) {
        set(summariseReady(phases, conditions));
        await writeStatus(written, { ...status, conditions }, rctx.signal);
        written = { ...written, status: { ...status, conditions, ...(generation !== undefined ? { observedGeneration: generation } : {}) } };
      }
      current = { ...current, status: { ...status, conditions } };
    }
    set(summariseReady(phases, conditions));
    await writeStatus(written, { ...status, conditions }, rctx.signal);
    const requeueAfterMs = earliest(requeues);
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  };

  /** One merge patch against what the API server has; nothing is sent when nothing changed. */
  async function writeStatus(agent: ConfidentialAgent, status: ConfidentialAgentStatus, signal: AbortSignal): Promise<void> {
    await patchStatus(deps.clients, AGENTS, agent, status, signal);
  }
}
