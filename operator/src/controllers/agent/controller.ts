// ConfidentialAgent reconciler. Thin by design: read the cache, run the lifecycle steps
// (provision -> attest + release), write status once, emit Events. Every step is idempotent.
import type { Logger } from 'pino';
import type { ConfidentialAgent, ConfidentialAgentStatus } from '../../api/confidential-agent.ts';
import type { SealedCredential } from '../../api/sealed-credential.ts';
import type { InstanceInfo } from '../../cloud/provider.ts';
import { setCondition } from '../../runtime/conditions.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import { addFinalizer, removeFinalizer } from '../../runtime/finalizers.ts';
import type { KubeClients, ObjectKey, ReconcileResult, SharedInformer } from '../../runtime/manager.ts';
import { patchStatus } from '../../runtime/status.ts';
import { AGENTS, FINALIZER } from '../resources.ts';
import { deleteInstance } from './deletion.ts';
import { providerNameOf, type ProviderSet } from './providers.ts';
import { ensureInstance } from './provisioning.ts';
import { summariseReady, type ConditionInput } from './ready.ts';
import { resolveAgentSandboxPolicy } from '../../pep/agent-policy.ts';

/** What the attestation + release step reports back for one agent. */
export interface ReleaseOutcome {
  conditions: ConditionInput[];
  attestation?: ConfidentialAgentStatus['attestation'];
  credentials?: ConfidentialAgentStatus['credentials'];
  requeueAfterMs?: number;
  events?: Array<{ type: 'Normal' | 'Warning'; reason: string; action: string; note: string }>;
}

/** Attests a running instance and releases its credentials (see release/agent-release.ts). */
export interface ReleaseStep {
  run(agent: ConfidentialAgent, instance: InstanceInfo, logger: Logger): Promise<ReleaseOutcome>;
  /** The agent is going away: drop sessions and entitlements. */
  forget?(agent: ConfidentialAgent): void;
}

export interface AgentControllerDeps {
  agents: SharedInformer<ConfidentialAgent>;
  credentials: SharedInformer<SealedCredential>;
  providers: ProviderSet;
  clusterId: string;
  clients: KubeClients;
  events: EventRecorder;
  release: ReleaseStep;
  now?: () => Date;
}

export function agentReconciler(deps: AgentControllerDeps) {
  const now = deps.now ?? (() => new Date());

  return async function reconcile(key: ObjectKey, ctx: { logger: Logger }): Promise<ReconcileResult | void> {
    const agent = deps.agents.get(key.namespace, key.name);
    if (!agent) return;
    const providerName = providerNameOf(agent);
    const provider = deps.providers[providerName];

    if (agent.metadata.deletionTimestamp) {
      if (!agent.metadata.finalizers?.includes(FINALIZER)) return;
      if (!provider) {
        deps.events.emit(agent, 'Warning', 'ProviderNotConfigured', 'Delete', `provider ${providerName} is not configured; cannot delete the instance`);
        return { requeueAfterMs: 60_000 };
      }
      const outcome = await deleteInstance(agent, providerName, provider, deps.clusterId);
      if (!outcome.gone) {
        if (outcome.deletedIds.length) ctx.logger.info({ instances: outcome.deletedIds }, 'waiting for instance deletion');
        return { requeueAfterMs: outcome.requeueAfterMs };
      }
      deps.release.forget?.(agent);
      await removeFinalizer(deps.clients, AGENTS, agent, FINALIZER);
      deps.events.emit(agent, 'Normal', 'InstanceDeleted', 'Delete', 'instance deleted; finalizer removed');
      return;
    }

    const at = now();
    const generation = agent.metadata.generation;
    let conditions = agent.status?.conditions ?? [];
    const set = (c: ConditionInput) => (conditions = setCondition(conditions, c, generation, at));
    // kstatus: every condition the object will ever carry exists from the first visit on.
    for (const type of ['Ready', 'Provisioned', 'Attested', 'CredentialsReleased']) {
      if (!conditions.some((c) => c.type === type)) set({ type, status: 'Unknown', reason: 'Reconciling', message: 'not evaluated yet' });
    }

    if (!provider) {
      set({ type: 'Provisioned', status: 'False', reason: 'ProviderNotConfigured', message: `the operator runs without the ${providerName} provider` });
      set(summariseReady(conditions));
      await writeStatus(agent, { ...agent.status, conditions });
      return { requeueAfterMs: 5 * 60_000 };
    }

    const current = agent.metadata.finalizers?.includes(FINALIZER) ? agent : await addFinalizer(deps.clients, AGENTS, agent, FINALIZER);
    const manifest = credentialPaths(agent);
    const provisioned = await ensureInstance(current as ConfidentialAgent, providerName, provider, deps.clusterId, manifest);
    set(provisioned.condition);
    if (provisioned.event) deps.events.emit(agent, provisioned.event.type, provisioned.event.reason, provisioned.event.action, provisioned.event.note);

    const status: ConfidentialAgentStatus = { ...agent.status, conditions };
    if (provisioned.instance) status.instance = provisioned.instance;
    let requeueAfterMs = provisioned.requeueAfterMs;

    if (provisioned.condition.status === 'True' && provisioned.info) {
      // In KBS mode the guest pulls while we attest it, and the KBS recognises it by the address in
      // status: persist the running instance first. (Challenge mode needs no extra write: the
      // idempotency token already finds the instance after a crash.)
      const instanceChanged = !agent.status?.instance || agent.status.instance.id !== provisioned.instance?.id || agent.status.instance.state !== 'Running';
      if (agent.spec.delivery.mode === 'KBS' && instanceChanged) {
        await writeStatus(agent, { ...status, conditions: setCondition(conditions, summariseReady(conditions), generation, at) });
      }
      const released = await deps.release.run(agent, provisioned.info, ctx.logger);
      for (const c of released.conditions) set(c);
      if (released.attestation) status.attestation = released.attestation;
      if (released.credentials) status.credentials = released.credentials;
      for (const e of released.events ?? []) deps.events.emit(agent, e.type, e.reason, e.action, e.note);
      requeueAfterMs = released.requeueAfterMs;
    } else {
      for (const type of ['Attested', 'CredentialsReleased']) {
        set({ type, status: 'False', reason: 'WaitingForInstance', message: 'the instance is not running yet' });
      }
    }
    // Which tool-sandbox policy the agent runs under (spec.sandboxPolicy → ConfigMap digest).
    const sandbox = await resolveAgentSandboxPolicy(deps.clients.core, agent);
    if (sandbox.status) status.sandboxPolicy = sandbox.status;
    else delete status.sandboxPolicy;
    if (sandbox.error) deps.events.emit(agent, 'Warning', 'SandboxPolicyInvalid', 'Reconcile', sandbox.error);
    set(summariseReady(conditions));
    status.conditions = conditions;
    await writeStatus(agent, status);
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  };

  function credentialPaths(agent: ConfidentialAgent): string[] {
    return agent.spec.credentials.flatMap((ref) => {
      const cred = deps.credentials.get(agent.metadata.namespace, ref.name);
      return cred ? [cred.spec.resourcePath] : [];
    });
  }

  async function writeStatus(agent: ConfidentialAgent, status: ConfidentialAgentStatus): Promise<void> {
    const next = { ...status, observedGeneration: agent.metadata.generation };
    if (JSON.stringify(next) === JSON.stringify(agent.status)) return; // no write churn on resync
    await patchStatus(deps.clients, AGENTS, agent, next);
  }
}
