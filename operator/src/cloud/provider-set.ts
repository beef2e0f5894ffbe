// Which provider serves an agent, and the provider-specific create spec derived from the agent.
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { InstanceProvider, ProviderName } from './provider.ts';

export type ProviderSet = Partial<Record<ProviderName, InstanceProvider>>;

export function providerNameOf(agent: ConfidentialAgent): ProviderName {
  return agent.spec.instance.alibaba ? 'alibaba' : 'local';
}

/**
 * The spec object handed to provider.create. `initData`: the CoCo init-data TOML the instance launches
 * with (its digest is measured at launch); only the local provider can take it.
 */
export function createSpecOf(agent: ConfidentialAgent, manifest: string[], initData?: string): unknown {
  const { instance, workload } = agent.spec;
  if (instance.alibaba) return instance.alibaba;
  return {
    ...(instance.local ?? { bootDelaySeconds: 0 }),
    workload: { model: workload.model, port: workload.port },
    guestApiPort: agent.spec.delivery.guestApiPort,
    manifest,
    ...(initData !== undefined ? { initData } : {}),
  };
}

/** Poll interval while an instance boots: local instances boot in seconds, cloud ones in minutes. */
export function pollIntervalMs(provider: ProviderName): number {
  return provider === 'local' ? 500 : 5_000;
}

/**
 * Default of how often an attested agent's instance is described again to notice a reboot under the same
 * id (InstanceInfo.startedAt; `--instance-recheck` overrides). Rechecks fall on a wall-clock grid of this
 * interval (attest.ts untilRecheck) and concurrent ECS describes share DescribeInstances calls of up to 100
 * ids, so 1,000 agents cost about 63 calls per interval (16 workers at a time) out of the account's budget
 * (--alibaba-rps, default 5), not 1,000; the local cloud is loopback.
 */
export function instanceRecheckMs(provider: ProviderName): number {
  return provider === 'local' ? 30_000 : 600_000;
}
