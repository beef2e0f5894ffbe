// Provisioned step: make sure exactly one instance exists for the agent and report its state. The
// idempotency token makes every call safe to repeat: after a crash between "create" and "write
// status", the next reconcile finds the instance by token instead of creating a second one.
import type { ConfidentialAgent, ConfidentialAgentStatus } from '../../api/confidential-agent.ts';
import { ProviderError, type InstanceInfo, type InstanceProvider, type ProviderName } from '../../cloud/provider.ts';
import type { ConditionInput } from './ready.ts';
import { instanceToken } from './instance-token.ts';
import { createSpecOf, pollIntervalMs } from '../../cloud/provider-set.ts';

export interface ProvisionOutcome {
  instance?: NonNullable<ConfidentialAgentStatus['instance']>;
  info?: InstanceInfo;
  condition: ConditionInput;
  requeueAfterMs?: number;
  event?: { type: 'Normal' | 'Warning'; reason: string; action: string; note: string };
}

/** How long to wait before retrying after a condition-class provider error (no hot loops). */
export const SLOW_RETRY_MS = 5 * 60_000;

export async function ensureInstance(
  agent: ConfidentialAgent,
  providerName: ProviderName,
  provider: InstanceProvider,
  clusterId: string,
  manifest: string[],
): Promise<ProvisionOutcome> {
  const uid = agent.metadata.uid ?? '';
  const owner = { clusterId, namespace: agent.metadata.namespace ?? '', name: agent.metadata.name, uid };
  const spec = createSpecOf(agent, manifest);
  const token = instanceToken(uid, agent.spec.instance);
  try {
    let info: InstanceInfo | undefined;
    let event: ProvisionOutcome['event'];
    const knownId = agent.status?.instance?.id;
    if (knownId) info = await provider.describe(knownId);
    if (!info) info = await provider.findByToken(token, owner);
    if (!info) {
      info = await provider.create({ token, owner, spec, labels: { profile: agent.spec.workload.profile } });
      event = { type: 'Normal', reason: 'InstanceCreated', action: 'Provision', note: `created ${providerName} instance ${info.id}` };
    } else if (knownId && knownId !== info.id) {
      event = { type: 'Warning', reason: 'InstanceReplaced', action: 'Provision', note: `instance ${knownId} is gone; now tracking ${info.id}` };
    }
    const instance = {
      provider: providerName,
      id: info.id,
      state: info.state,
      ...(info.address ? { address: addressOf(info, agent.spec.workload.port) } : {}),
      ...(info.zone ? { zone: info.zone } : {}),
      ...(info.createdAt ? { createdAt: info.createdAt } : {}),
    };
    if (info.state === 'Running') {
      return {
        instance,
        info,
        event,
        condition: { type: 'Provisioned', status: 'True', reason: 'InstanceRunning', message: `instance ${info.id} is running at ${instance.address ?? 'an unknown address'}` },
      };
    }
    if (info.state === 'Stopped' || info.state === 'Stopping' || info.state === 'Deleted') {
      return {
        instance,
        info,
        event,
        requeueAfterMs: pollIntervalMs(providerName) * 4,
        condition: { type: 'Provisioned', status: 'False', reason: 'InstanceNotRunning', message: `instance ${info.id} is ${info.state}` },
      };
    }
    return {
      instance,
      info,
      event,
      requeueAfterMs: pollIntervalMs(providerName),
      condition: { type: 'Provisioned', status: 'False', reason: 'InstanceStarting', message: `instance ${info.id} is ${info.state}` },
    };
  } catch (err) {
    if (err instanceof ProviderError && err.kind !== 'Retryable' && err.kind !== 'NotFound') {
      const reason = { InvalidSpec: 'InvalidInstanceSpec', Capacity: 'NoCapacity', Quota: 'QuotaExceeded', Auth: 'CloudAuthFailed' }[err.kind];
      const request = err.requestId ? ` (request id ${err.requestId})` : '';
      return {
        requeueAfterMs: SLOW_RETRY_MS,
        event: { type: 'Warning', reason, action: 'Provision', note: `${err.code}: ${err.message}${request}` },
        condition: { type: 'Provisioned', status: 'False', reason, message: `${providerName} refused the instance: ${err.code}: ${err.message}${request}` },
      };
    }
    throw err; // retryable: the work queue backs off
  }
}

/** host:port of the agent endpoint (the local provider maps guest ports to loopback ports). */
function addressOf(info: InstanceInfo, workloadPort: number): string | undefined {
  if (!info.address) return undefined;
  const port = info.ports?.[workloadPort] ?? workloadPort;
  return `${info.address}:${port}`;
}
