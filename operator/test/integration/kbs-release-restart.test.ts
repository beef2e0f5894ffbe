// Level-triggered KBS release: what the KBS released is recorded in the agent's status, so after an
// operator restart — and after a leader failover — CredentialsReleased stays True and nothing is released
// again (no new bootstrap push, no new KBS fetch) without a fresh attestation.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { runCli } from '../../src/cli/main.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { localGuests, type LocalGuests } from '../../src/sim/local/guest-launcher.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { conditionOf, createCustom, customObjects, getAgent, localAgent, samplePolicy, startTestOperator } from '../support/operator.ts';

const controlPlane = useControlPlane();
const OPERATOR_NS = 'cai-kbs-restart';
const PATH = 'default/local-resources/gateway_token';

async function seal(kc: KubeConfig, ns: string, name: string, agent: string): Promise<Record<string, unknown>> {
  const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: OPERATOR_NS });
  const dir = mkdtempSync(join(tmpdir(), 'cai-seal-'));
  writeFileSync(join(dir, 'cert.pem'), cm.data?.['cert.pem'] ?? '');
  let out = '';
  const code = await runCli(['seal', '--cert', join(dir, 'cert.pem'), '--from-literal', 'kbs-restart-token-19af', '--name', name, '--namespace', ns, '--resource-path', PATH, '--agent', agent], {
    stdout: (t) => (out += t),
    stderr: () => undefined,
    readStdin: async () => Buffer.alloc(0),
    env: {},
  });
  expect(code).toBe(0);
  return parse(out) as Record<string, unknown>;
}

describe('KBS deliveries survive operator restart and leader failover', () => {
  let cloud: LocalCloud;
  let guests: LocalGuests;
  const running: OperatorHandle[] = [];
  const start = async (extra: string[] = []) => {
    const op = await startTestOperator(controlPlane().kubeConfig(), ['--local-cloud-url', cloud.url, '--operator-namespace', OPERATOR_NS, '--gc-interval', '3600', ...extra]);
    running.push(op);
    return op;
  };
  const stop = async (op: OperatorHandle) => {
    await op.stop();
    running.splice(running.indexOf(op), 1);
  };
  const reconciles = async (op: OperatorHandle) => {
    const metric = await op.manager.metrics.getSingleMetric('controller_runtime_reconcile_total')?.get();
    return (metric?.values ?? []).filter((v) => v.labels['controller'] === 'confidentialagent').reduce((n, v) => n + v.value, 0);
  };

  beforeAll(async () => {
    guests = localGuests();
    cloud = await startLocalCloud({ launchGuest: guests.launch, pendingMs: 5 });
  });
  afterAll(async () => {
    for (const op of running.splice(0)) await op.stop();
    await cloud?.close();
  });

  async function deliveredAgent(kc: KubeConfig, ns: string, name: string) {
    await createCustom(kc, 'sealedcredentials', ns, await seal(kc, ns, `cred-${name}`, name));
    await createCustom(kc, 'confidentialagents', ns, localAgent(name, 'dev', { credentials: [{ name: `cred-${name}` }], delivery: { mode: 'KBS' } }));
    const agent = await waitFor(`${name} Ready`, async () => {
      const a = await getAgent(kc, ns, name);
      return conditionOf(a, 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 60_000 }).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; status: ${JSON.stringify((await getAgent(kc, ns, name))?.status)}`);
    });
    expect(agent.status?.credentials).toEqual([expect.objectContaining({ name: `cred-${name}`, mode: 'KBS', resourcePath: PATH })]);
    const guest = guests.guest(agent.status?.instance?.id ?? '')!;
    expect(guest.resources().get(PATH)?.toString()).toBe('kbs-restart-token-19af');
    return { agent, guest };
  }

  const counts = (guest: NonNullable<ReturnType<LocalGuests['guest']>>) => ({
    bootstraps: guest.events.history.filter((e) => e.type === 'bootstrap').length,
    fetches: guest.events.history.filter((e) => e.type === 'fetched').length,
  });

  it('restart: a new operator instance (fresh KBS, empty memory) finds the delivery in status; CredentialsReleased stays True, nothing re-released', async () => {
    const kc = controlPlane().kubeConfig();
    const first = await start();
    const ns = await createNamespace(kc, 'kbs-restart');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    const { agent, guest } = await deliveredAgent(kc, ns, 'agent-r');
    const before = counts(guest);
    const released = conditionOf(agent, 'CredentialsReleased');
    await stop(first);

    const second = await start();
    // The new instance reconciles every agent on start; wait for that, plus a margin for any late write.
    await waitFor('restarted operator reconciled the agent', async () => (await reconciles(second)) >= 1);
    await new Promise((r) => setTimeout(r, 1500));
    const after = await getAgent(kc, ns, 'agent-r');
    expect(conditionOf(after, 'CredentialsReleased')).toMatchObject({ status: 'True', reason: 'Delivered', lastTransitionTime: (released as { lastTransitionTime?: string } | undefined)?.lastTransitionTime });
    expect(conditionOf(after, 'Ready')?.status).toBe('True');
    expect(after?.status?.credentials).toEqual(agent.status?.credentials);
    expect(after?.status?.attestation).toEqual(agent.status?.attestation);
    expect(counts(guest)).toEqual(before);
    // Local instances all answer from 127.0.0.1, and the KBS knows an agent by its address: clean up
    // so the next test's agent is the only KBS agent at that address.
    await customObjects(kc).deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'confidentialagents', name: 'agent-r' });
    await waitFor('agent-r deleted', async () => (await getAgent(kc, ns, 'agent-r')) === undefined);
    await stop(second);
  });

  it('leader failover: the standby takes over with the delivery in status; nothing re-released', async () => {
    const kc = controlPlane().kubeConfig();
    const leaderArgs = ['--leader-elect', 'true', '--lease-name', 'kbs-failover'];
    const a = await start([...leaderArgs, '--identity', 'op-a']);
    await a.manager.elected;
    const ns = await createNamespace(kc, 'kbs-failover');
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    const { agent, guest } = await deliveredAgent(kc, ns, 'agent-f');
    const b = await start([...leaderArgs, '--identity', 'op-b']);
    expect(b.manager.isLeader()).toBe(false);
    const before = counts(guest);

    await stop(a); // releases the lease: b takes over
    await b.manager.elected;
    await waitFor('new leader reconciled', async () => (await reconciles(b)) >= 1);
    await new Promise((r) => setTimeout(r, 1500));
    const after = await getAgent(kc, ns, 'agent-f');
    expect(conditionOf(after, 'CredentialsReleased')).toMatchObject({ status: 'True', reason: 'Delivered' });
    expect(conditionOf(after, 'Ready')?.status).toBe('True');
    expect(after?.status?.credentials).toEqual(agent.status?.credentials);
    expect(counts(guest)).toEqual(before);
  });
});
