// Domain metrics against the real API server: after an agent becomes Ready (local provider, sample TEE),
// a real HTTP scrape of /metrics shows its state as kube-state-metrics would, the time-to-Ready histogram
// has its observation, and no label carries an unbounded or secret value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { workloadGuestLauncher } from '../../src/sim/local/guest-launcher.ts';
import { METRIC } from '../../src/metrics/names.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { conditionOf, createCustom, getAgent, localAgent, samplePolicy, startTestOperator } from '../support/operator.ts';
import { series } from '../support/prom-text.ts';

const controlPlane = useControlPlane();

describe('domain metrics', () => {
  let cloud: LocalCloud;
  let operator: OperatorHandle | undefined;
  beforeAll(async () => {
    cloud = await startLocalCloud({ launchGuest: workloadGuestLauncher(), pendingMs: 5 });
  });
  afterAll(async () => {
    await operator?.stop();
    await cloud.close();
  });

  it('exposes agent, policy and instance state and the time to Ready on /metrics', async () => {
    const kc = controlPlane().kubeConfig();
    operator = await startTestOperator(kc, ['--local-cloud-url', cloud.url, '--gc-interval', '3600']);
    const ns = await createNamespace(kc, 'metrics');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, localAgent('m1', 'dev'));
    await waitFor('Ready=True', async () => (conditionOf(await getAgent(kc, ns, 'm1'), 'Ready')?.status === 'True' ? true : undefined));

    const { host, port } = await operator.manager.httpAddress;
    const scrape = async () => (await fetch(`http://${host}:${port}/metrics`)).text();
    // The time-to-Ready observation arrives with the informer's update event.
    const text = await waitFor('time-to-Ready observed', async () => {
      const t = await scrape();
      return series(t, `${METRIC.agentTimeToReady}_count`)[0]?.value === 1 ? t : undefined;
    });

    const conditions = series(text, METRIC.agentCondition).filter((s) => s.labels.namespace === ns && s.labels.name === 'm1');
    expect(conditions.map((s) => `${s.labels.condition}=${s.labels.status}`).sort()).toEqual(['Attested=True', 'CredentialsReleased=True', 'EndpointReady=True', 'Provisioned=True', 'Ready=True', 'SandboxPolicyReady=True']);
    expect(conditions.every((s) => s.value === 1 && /^[A-Za-z]+$/.test(s.labels.reason ?? ''))).toBe(true);
    expect(series(text, METRIC.instances)).toContainEqual({ labels: { provider: 'local', state: 'Running' }, value: 1 });
    const ear = series(text, METRIC.agentAttestationStatus).filter((s) => s.labels.name === 'm1');
    expect(ear.filter((s) => s.value === 1).map((s) => s.labels.status)).toHaveLength(1);
    expect(series(text, METRIC.policyCondition).some((s) => s.labels.name === 'dev' && s.labels.condition === 'Ready' && s.labels.status === 'True')).toBe(true);
    expect(series(text, METRIC.agentNextAttestation).find((s) => s.labels.name === 'm1')?.value).toBeGreaterThan(Date.now() / 1000);
    // Every domain family is registered (zero-valued families still print their HELP/TYPE).
    for (const family of [METRIC.attestations, METRIC.releases, METRIC.cloudRequests, METRIC.sealingKeys]) expect(text).toContain(`# TYPE ${family} `);

    // Cardinality: one series per object and condition; no label value from a guest, a nonce or a digest.
    const agent = await getAgent(kc, ns, 'm1');
    const forbidden = [agent?.status?.instance?.id, agent?.status?.attestation?.tokenDigest, agent?.status?.instance?.address].filter((v): v is string => !!v);
    for (const value of forbidden) expect(text).not.toContain(value);
  });
});
