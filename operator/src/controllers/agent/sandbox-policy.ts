// Sandbox-policy phase (condition SandboxPolicyReady), first in the lifecycle: settle which tool-sandbox
// (PEP) policy the instance launches with before there is an instance. spec.sandboxPolicy names a
// ConfigMap key; the document is read, parsed and checked against the optional pin, and handed to the
// later phases as a fact: provision writes its digest into the instance's init-data (measured at launch:
// MRCONFIGID on TDX), attest verifies evidence against that init-data and delivers the document in the
// attested bootstrap push, where the guest's PEP loads it only if its digest is the launched one.
//
// Init-data cannot change after launch. When the ConfigMap (or the spec) later names another document
// than the running instance launched with, the phase refuses (SandboxPolicyChanged): nothing more is
// attested or released to that instance, rather than reporting a policy the guest does not enforce.
import { AgentCondition, AgentReason, EventAction } from '../../api/conditions.ts';
import type { ConfidentialAgent } from '../../api/confidential-agent.ts';
import { initDataForPolicy } from '../../pep/attestation.ts';
import { resolveAgentSandboxPolicy, type ConfigMapReader } from '../../pep/agent-policy.ts';
import { RETRY_AFTER_FAILURE_MS, type Phase, type PhaseResult } from './phase.ts';

export interface SandboxPolicyDeps {
  /** Reads the named ConfigMap (a GET in the agent's namespace; no ConfigMap informer). */
  configMaps: ConfigMapReader;
  /** How often a named policy ConfigMap is read again while nothing else re-queues the agent (default 60 s). */
  sandboxPolicyPollMs?: number;
}

const DEFAULT_POLL_MS = 60_000;

export function sandboxPolicyPhase(deps: SandboxPolicyDeps): Phase {
  const pollMs = deps.sandboxPolicyPollMs ?? DEFAULT_POLL_MS;
  return {
    name: 'sandbox-policy',
    condition: AgentCondition.SandboxPolicyReady,
    blocks: { reason: AgentReason.WaitingForSandboxPolicy, message: 'the sandbox policy the instance runs under is not settled' },
    async reconcile(agent, ctx) {
      const instance = agent.status?.instance;
      const launched = instance?.sandboxPolicyDigest;
      const ref = agent.spec.sandboxPolicy;
      const refuse = (reason: string, message: string, status: PhaseResult['status'] = {}): PhaseResult => ({
        condition: { status: 'False', reason, message },
        status,
        events: [{ type: 'Warning', reason, action: EventAction.Reconcile, note: message }],
        requeueAfterMs: Math.min(pollMs, RETRY_AFTER_FAILURE_MS),
      });

      if (!ref) {
        if (instance && launched) {
          return refuse(
            AgentReason.SandboxPolicyChanged,
            `spec.sandboxPolicy was removed, but instance ${instance.id} launched with sandbox policy ${launched} in its attested init-data and its PEP enforces that policy; restore spec.sandboxPolicy or recreate the agent`,
            { sandboxPolicy: undefined },
          );
        }
        return { condition: { status: 'True', reason: AgentReason.NoSandboxPolicy, message: 'the agent names no sandbox policy (spec.sandboxPolicy): nothing about its PEP is attested' }, status: { sandboxPolicy: undefined } };
      }
      if (agent.spec.instance.alibaba) {
        // ECS RunInstances has no init-data (MRCONFIGID) parameter: the digest could not be measured.
        return refuse(
          AgentReason.InitDataUnsupported,
          'spec.sandboxPolicy needs init-data measured at launch (MRCONFIGID), and the alibaba provider cannot launch an instance with init-data; the policy would be neither attested nor enforced, so no instance is created',
          { sandboxPolicy: undefined },
        );
      }
      const resolved = await resolveAgentSandboxPolicy(deps.configMaps, agent);
      if (resolved.error !== undefined || !resolved.status || resolved.bytes === undefined) {
        return refuse(AgentReason.SandboxPolicyInvalid, resolved.error ?? 'the sandbox policy could not be resolved', { sandboxPolicy: undefined });
      }
      const { digest } = resolved.status;
      const status = { sandboxPolicy: resolved.status };
      if (instance && launched !== digest) {
        ctx.logger.warn({ instance: instance.id, launched: launched ?? null, current: digest }, 'sandbox policy differs from the one the instance launched with');
        return refuse(
          AgentReason.SandboxPolicyChanged,
          `${resolved.status.configMap}/${resolved.status.key} now holds sandbox policy ${digest}, but instance ${instance.id} ` +
            (launched ? `launched with ${launched} in its attested init-data` : 'launched without a sandbox policy in its init-data') +
            '; init-data cannot change after launch, so nothing more is attested or released to this instance: restore the document (or pin spec.sandboxPolicy.digest to it) or recreate the agent',
          status,
        );
      }
      return {
        condition: {
          status: 'True',
          reason: AgentReason.SandboxPolicyResolved,
          message: `${resolved.status.configMap}/${resolved.status.key} sandbox policy ${digest}${instance ? ` (instance ${instance.id} launched with it)` : ''}`,
        },
        status,
        facts: { sandboxPolicy: { digest, document: resolved.bytes, initData: initDataForPolicy(digest) } },
        requeueAfterMs: pollMs,
      };
    },
  };
}

/** The init-data the agent's current instance launched with (what its evidence must bind), if any. */
export function launchedInitData(agent: ConfidentialAgent): string | undefined {
  const digest = agent.status?.instance?.sandboxPolicyDigest;
  return digest ? initDataForPolicy(digest) : undefined;
}
