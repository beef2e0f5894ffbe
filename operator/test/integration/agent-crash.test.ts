// The operator process is SIGKILLed while it provisions and then restarted: exactly one instance must
// exist for each agent afterwards (idempotency token + adoption by token, not luck).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { workloadGuestLauncher } from '../../src/sim/local/guest-launcher.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { conditionOf, createCustom, getAgent, localAgent, samplePolicy, spawnOperator, type SpawnedOperator } from '../support/operator.ts';

const controlPlane = useControlPlane();

describe('operator crash mid-provisioning', () => {
  let cloud: LocalCloud;
  const spawned: SpawnedOperator[] = [];
  beforeAll(async () => {
    cloud = await startLocalCloud({ launchGuest: workloadGuestLauncher(), pendingMs: 5 });
  });
  afterAll(async () => {
    for (const p of spawned) await p.kill('SIGKILL');
    await cloud.close();
  });

  it('SIGKILL after the first create reached the cloud, restart → exactly one instance per agent', async () => {
    const cp = controlPlane();
    const kc = cp.kubeConfig();
    const ns = await createNamespace(kc, 'crash');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    const names = ['c1', 'c2', 'c3', 'c4', 'c5'];
    for (const name of names) await createCustom(kc, 'confidentialagents', ns, localAgent(name, 'dev', { instance: { local: { bootDelaySeconds: 2 } } }));

    const first = spawnOperator(cp.kubeconfigPath, ['--local-cloud-url', cloud.url, '--gc-interval', '3600']);
    spawned.push(first);
    // Kill as soon as the cloud has seen the first create: the other agents are mid-flight.
    await waitFor('first instance created', () => (cloud.instances().length > 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 2 });
    await first.kill('SIGKILL');
    const afterKill = cloud.instances().length;
    expect(afterKill).toBeGreaterThan(0);

    const second = spawnOperator(cp.kubeconfigPath, ['--local-cloud-url', cloud.url, '--gc-interval', '3600']);
    spawned.push(second);
    for (const name of names) {
      await waitFor(`${name} Provisioned=True`, async () => (conditionOf(await getAgent(kc, ns, name), 'Provisioned')?.status === 'True' ? true : undefined), { timeoutMs: 60_000 });
    }
    for (const name of names) {
      const agent = await getAgent(kc, ns, name);
      const instances = cloud.instances().filter((i) => i.owner.uid === agent?.metadata.uid);
      expect(instances, `${name}: ${second.output().slice(-2000)}`).toHaveLength(1);
      expect(instances[0]?.id).toBe(agent?.status?.instance?.id);
    }
    await second.kill('SIGTERM');
  });
});
