// Provision phase (condition Provisioned): make sure exactly one instance exists for the agent and report
// its state. The idempotency token makes every call safe to repeat: after a crash between "create" and
// "write status", the next reconcile finds the instance by token instead of creating a second one.
// Finalize deletes the instance (delete.ts) so no paid instance outlives its object.
import { AgentCondition, AgentReason, EventAction } from '../../api/conditions.ts';
import type { ConfidentialAgent, ConfidentialAgentStatus } from '../../api/confidential-agent.ts';
import { createSpecOf, pollIntervalMs, providerNameOf, type ProviderSet } from '../../cloud/provider-set.ts';
import { ProviderError, type InstanceInfo } from '../../cloud/provider.ts';
import { deleteInstance } from './delete.ts';
import { instanceToken } from './instance-token.ts';
import type { Phase, PhaseResult } from './phase.ts';

/** How long to wait before retrying after a condition-class provider error (no hot loops). */
export const SLOW_RETRY_MS = 5 * 60_000;

export interface ProvisionDeps {
  providers: ProviderSet;
  clusterId: string;
  /** Resource paths the guest image fetches in KBS mode (its manifest), from the agent's credentials. */
  manifestOf(agent: ConfidentialAgent): string[];
}

export function provisionPhase(deps: ProvisionDeps): Phase {
  return {
    name: 'provision',
    condition: AgentCondition.Provisioned,
    blocks: { reason: AgentReason.WaitingForInstance, message: 'the instance is not running yet' },
    async reconcile(agent, ctx) {
      const providerName = providerNameOf(agent);
      const provider = deps.providers[providerName];
      if (!provider) {
        return {
          condition: { status: 'False', reason: AgentReason.ProviderNotConfigured, message: `provider ${providerName} is not enabled in this operator (start it with --providers including ${providerName})` },
          requeueAfterMs: SLOW_RETRY_MS,
        };
      }
      const uid = agent.metadata.uid ?? '';
      const owner = { clusterId: deps.clusterId, namespace: agent.metadata.namespace ?? '', name: agent.metadata.name, uid };
      // The sandbox policy is written into the instance's init-data at creation (measured at launch). Its
      // digest is part of the idempotency token: a lost create is found again only if it launched with it.
      const sandbox = ctx.facts.sandboxPolicy;
      const spec = createSpecOf(agent, deps.manifestOf(agent), sandbox?.initData);
      const token = instanceToken(uid, agent.spec.instance, sandbox?.digest);
      try {
        let info: InstanceInfo | undefined;
        const events: NonNullable<PhaseResult['events']> = [];
        const knownId = agent.status?.instance?.id;
        // Which sandbox policy the tracked instance launched with: kept from status for a known instance,
        // the current one for an instance this token found or created (the token binds the digest).
        let launchedDigest: string | undefined;
        if (knownId) info = await provider.describe(knownId, ctx.signal);
        if (info) launchedDigest = agent.status?.instance?.sandboxPolicyDigest;
        if (!info) {
          info = await provider.findByToken(token, owner, ctx.signal);
          launchedDigest = sandbox?.digest;
        }
        if (!info) {
          info = await provider.create({ token, owner, spec, labels: { profile: agent.spec.workload.profile } }, ctx.signal);
          events.push({ type: 'Normal', reason: AgentReason.InstanceCreated, action: EventAction.Provision, note: `created ${providerName} instance ${info.id}` });
        } else if (knownId && knownId !== info.id) {
          events.push({ type: 'Warning', reason: AgentReason.InstanceReplaced, action: EventAction.Provision, note: `instance ${knownId} is gone; now tracking ${info.id}` });
        }
        const instance: NonNullable<ConfidentialAgentStatus['instance']> = {
          provider: providerName,
          id: info.id,
          state: info.state,
          ...(info.address ? { address: addressOf(info, agent.spec.workload.port) } : {}),
          ...(info.zone ? { zone: info.zone } : {}),
          ...(info.createdAt ? { createdAt: info.createdAt } : {}),
          ...(launchedDigest ? { sandboxPolicyDigest: launchedDigest } : {}),
        };
        const base = { status: { instance }, facts: { instance: info }, events };
        if (info.state === 'Running') {
          const prev = agent.status?.instance;
          return {
            ...base,
            condition: { status: 'True', reason: AgentReason.InstanceRunning, message: `instance ${info.id} is running at ${instance.address ?? 'an unknown address'}` },
            // In KBS mode the guest pulls while we attest it, and the KBS recognises it by the address in
            // status: persist the running instance first. (Challenge mode needs no extra write: the
            // idempotency token already finds the instance after a crash.)
            persistBeforeNext: agent.spec.delivery.mode === 'KBS' && (!prev || prev.id !== info.id || prev.state !== 'Running' || prev.address !== instance.address),
          };
        }
        if (info.state === 'Stopped' || info.state === 'Stopping' || info.state === 'Deleted') {
          return {
            ...base,
            requeueAfterMs: pollIntervalMs(providerName) * 4,
            condition: { status: 'False', reason: AgentReason.InstanceNotRunning, message: `instance ${info.id} is ${info.state}` },
          };
        }
        return {
          ...base,
          requeueAfterMs: pollIntervalMs(providerName),
          condition: { status: 'False', reason: AgentReason.InstanceStarting, message: `instance ${info.id} is ${info.state}` },
        };
      } catch (err) {
        if (err instanceof ProviderError && err.kind !== 'Retryable' && err.kind !== 'NotFound') {
          const reason = { InvalidSpec: AgentReason.InvalidInstanceSpec, Capacity: AgentReason.NoCapacity, Quota: AgentReason.QuotaExceeded, Auth: AgentReason.CloudAuthFailed }[err.kind];
          const request = err.requestId ? ` (request id ${err.requestId})` : '';
          return {
            requeueAfterMs: SLOW_RETRY_MS,
            events: [{ type: 'Warning', reason, action: EventAction.Provision, note: `${err.code}: ${err.message}${request}` }],
            condition: { status: 'False', reason, message: `${providerName} refused the instance: ${err.code}: ${err.message}${request}` },
          };
        }
        throw err; // retryable: the work queue backs off
      }
    },
    async finalize(agent, ctx) {
      const providerName = providerNameOf(agent);
      const provider = deps.providers[providerName];
      if (!provider && !agent.status?.instance) return { done: true }; // never provisioned: nothing to delete
      if (!provider) {
        return {
          done: false,
          requeueAfterMs: 60_000,
          events: [{ type: 'Warning', reason: AgentReason.ProviderNotConfigured, action: EventAction.Delete, note: `provider ${providerName} is not configured; cannot delete the instance` }],
        };
      }
      const outcome = await deleteInstance(agent, providerName, provider, deps.clusterId, ctx.signal);
      if (!outcome.gone && outcome.deletedIds.length) ctx.logger.info({ instances: outcome.deletedIds }, 'waiting for instance deletion');
      return outcome.gone ? { done: true } : { done: false, ...(outcome.requeueAfterMs !== undefined ? { requeueAfterMs: outcome.requeueAfterMs } : {}) };
    },
  };
}

/** host:port of the agent endpoint (the local provider maps guest ports to loopback ports). */
function addressOf(info: InstanceInfo, workloadPort: number): string | undefined {
  if (!info.address) return undefined;
  const port = info.ports?.[workloadPort] ?? workloadPort;
  return `${info.address}:${port}`;
}
