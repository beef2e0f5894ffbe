// Sealing-key rotation against the real API server: `cai sealing-key rotate` while the operator runs;
// the new certificate is published, the running operator opens credentials sealed to the new key, and
// credentials sealed to the old key keep working.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { runCli } from '../../src/cli/main.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { localGuests, type LocalGuests } from '../../src/sim/local/guest-launcher.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { conditionOf, createCustom, getAgent, localAgent, samplePolicy, startTestOperator } from '../support/operator.ts';

const controlPlane = useControlPlane();
const NS = 'cai-rotate';

async function cli(kubeconfigPath: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), readStdin: async () => Buffer.alloc(0), env: { KUBECONFIG: kubeconfigPath } });
  return { code, out, err };
}

describe('sealing key rotation', () => {
  let cloud: LocalCloud;
  let guests: LocalGuests;
  let operator: OperatorHandle;
  beforeAll(async () => {
    guests = localGuests();
    cloud = await startLocalCloud({ launchGuest: guests.launch, pendingMs: 5 });
    operator = await startTestOperator(controlPlane().kubeConfig(), ['--local-cloud-url', cloud.url, '--operator-namespace', NS]);
  });
  afterAll(async () => {
    await operator?.stop();
    await cloud?.close();
  });

  it('rotates while the operator runs; old and new sealed credentials both reach the agent', async () => {
    const cp = controlPlane();
    const kc = cp.kubeConfig();
    const ns = await createNamespace(kc, 'rotation');
    const dir = mkdtempSync(join(tmpdir(), 'cai-rotate-'));
    const seal = async (certFile: string, name: string, value: string, path: string) => {
      const r = await cli(cp.kubeconfigPath, ['seal', '--cert', certFile, '--from-literal', value, '--name', name, '--namespace', ns, '--resource-path', path, '--agent', 'rotated']);
      expect(r.code, r.err).toBe(0);
      await createCustom(kc, 'sealedcredentials', ns, parse(r.out) as object);
    };

    const cert1 = await cli(cp.kubeconfigPath, ['sealing-key', 'cert', '--namespace', NS]);
    expect(cert1.code, cert1.err).toBe(0);
    writeFileSync(join(dir, 'cert1.pem'), cert1.out);
    await seal(join(dir, 'cert1.pem'), 'old-key', 'sealed-with-the-first-key', 'default/local-resources/old');

    const rotated = await cli(cp.kubeconfigPath, ['sealing-key', 'rotate', '--namespace', NS]);
    expect(rotated.code, rotated.err).toBe(0);
    expect(rotated.err).toMatch(/2 key\(s\) kept/);
    const cert2 = await waitFor('new certificate published', async () => {
      const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: NS });
      return cm.data?.['cert.pem'] && cm.data['cert.pem'] !== cert1.out ? cm.data['cert.pem'] : undefined;
    });
    writeFileSync(join(dir, 'cert2.pem'), cert2);
    await seal(join(dir, 'cert2.pem'), 'new-key', 'sealed-with-the-second-key', 'default/local-resources/new');

    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, localAgent('rotated', 'dev', { credentials: [{ name: 'old-key' }, { name: 'new-key' }] }));
    const agent = await waitFor('agent Ready', async () => {
      const a = await getAgent(kc, ns, 'rotated');
      return conditionOf(a, 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 60_000 });
    const got = guests.guest(agent.status?.instance?.id ?? '')?.resources();
    expect(got?.get('default/local-resources/old')?.toString()).toBe('sealed-with-the-first-key');
    expect(got?.get('default/local-resources/new')?.toString()).toBe('sealed-with-the-second-key');
  });
});
