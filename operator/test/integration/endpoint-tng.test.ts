// The agent endpoint end to end with the real TNG 2.12.0 binary, loopback only: the operator (real
// kube-apiserver) renders the gateway ConfigMap; that config runs as the gateway (TNG client ingress) against
// the attestation service; the local guest runs the real TNG egress (coco_asr → its ASR, sample evidence
// carrying the agent's init-data digest) in front of the real OpenClaw gateway. A request reaches
// OpenClaw's /health with attested=true in the gateway's log; a policy flip refuses new connections at the
// AS and revokes the gateway (EndpointReady=False) in the operator.
//
// Two deliberate differences from a cluster: the gateway's listen host 0.0.0.0 (a Pod's) is replaced by
// 127.0.0.1 and its control port by a free one (tests listen on loopback only; the diff is asserted to be
// exactly that), and the pinned CA path /etc/tng/as-ca.pem (a Pod's ConfigMap mount) by a temp file holding
// the ConfigMap's as-ca.pem bytes. The AS is the operator's own (HTTPS from its CA, reading the same
// AttestationPolicy and ConfidentialAgent through its informers).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { command as connectCommand } from '../../src/cli/commands/connect.ts';
import { CA_KEY, CONFIG_KEY } from '../../src/controllers/agent/endpoint.ts';
import { parseTngConfig, TNG_CONTROL_PORT } from '../../src/protocol/tng-config.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { localGuests } from '../../src/sim/local/guest-launcher.ts';
import { httpCall } from '../../src/sim/guest/http.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { conditionOf, createCustom, customObjects, getAgent, localAgent, startTestOperator } from '../support/operator.ts';
import { freePort, launchTng, tngBinary, type TngProcess } from '../support/tng.ts';

const controlPlane = useControlPlane();
const DEV = { allowSampleTee: true, minimumStatus: 'warning', sample: { trustAsAffirming: true } };

describe('agent endpoint through the real TNG (gateway config from the ConfigMap → guest egress → OpenClaw)', () => {
  let asPort = 0;
  let caDir = '';
  let cloud: LocalCloud;
  let operator: OperatorHandle;
  const procs: TngProcess[] = [];
  let kubeconfigFile = '';
  beforeAll(async () => {
    kubeconfigFile = controlPlane().kubeconfigPath;
    asPort = await freePort();
    cloud = await startLocalCloud({ launchGuest: localGuests('127.0.0.1', { tng: { binary: tngBinary() }, workload: 'openclaw' }).launch, pendingMs: 5 });
    operator = await startTestOperator(controlPlane().kubeConfig(), [
      '--local-cloud-url', cloud.url, '--operator-namespace', 'cai-tng-e2e', '--gc-interval', '3600',
      '--as-bind-address', `127.0.0.1:${asPort}`, '--as-public-url', `https://127.0.0.1:${asPort}`,
    ]);
  }, 60_000);
  afterAll(async () => {
    for (const p of procs) await p.stop();
    await operator?.stop();
    await cloud?.close();
    if (caDir) rmSync(caDir, { recursive: true, force: true });
  });

  it('serves OpenClaw /health through the gateway with attested=true; a policy flip refuses new connections and revokes', async () => {
    const kc = controlPlane().kubeConfig();
    const ns = await createNamespace(kc, 'tng');
    const port = await freePort();
    await createCustom(kc, 'attestationpolicies', ns, { apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name: 'dev' }, spec: DEV });
    await createCustom(kc, 'confidentialagents', ns, localAgent('claw', 'dev', { endpoint: { port } }));
    const agent = await waitFor('claw Ready', async () => {
      const a = await getAgent(kc, ns, 'claw');
      return conditionOf(a, 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 180_000 }).catch(async (err: unknown) => {
      const a = await getAgent(kc, ns, 'claw');
      throw new Error(`${String(err)}: ${JSON.stringify(a?.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]))}`, { cause: err });
    });
    expect(conditionOf(agent, 'EndpointReady')?.status).toBe('True');

    // The gateway config exactly as stored, but listening on loopback with a free control port.
    const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace: ns, name: 'claw-tng' });
    const stored = cm.data?.[CONFIG_KEY] ?? '';
    // The AS CA bundle the gateway pins, where this machine can read it.
    caDir = mkdtempSync(join(tmpdir(), 'cai-gw-'));
    const caFile = join(caDir, 'as-ca.pem');
    writeFileSync(caFile, cm.data?.[CA_KEY] ?? '');
    const controlPort = await freePort();
    const local = stored
      .replaceAll('"host": "0.0.0.0"', '"host": "127.0.0.1"')
      .replace(`"port": ${TNG_CONTROL_PORT}`, `"port": ${controlPort}`)
      .replace('"/etc/tng/as-ca.pem"', JSON.stringify(caFile));
    const a = parseTngConfig(stored);
    const b = parseTngConfig(local);
    expect({ ...b, control_interface: a.control_interface, add_ingress: [{ ...b.add_ingress![0]!, mapping: a.add_ingress![0]!.mapping, verify: { ...b.add_ingress![0]!.verify, trusted_certs_paths: ['/etc/tng/as-ca.pem'] } }] }).toEqual(a);
    expect(a.add_ingress![0]!.verify.as_addr).toBe(`https://127.0.0.1:${asPort}`);
    const deployment = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns, name: 'claw-gateway' });
    expect(deployment.spec?.template.spec?.containers[0]?.env).toEqual([{ name: 'SSL_CERT_FILE', value: '/etc/tng/as-ca.pem' }]);
    expect(b.add_ingress![0]!.mapping.rules[0]!.in).toEqual({ host: '127.0.0.1', port });
    expect(a.add_ingress![0]!.verify.policy_ids).toEqual([`${ns}/dev/claw`]);

    const gateway = launchTng(JSON.parse(local) as object, { env: { SSL_CERT_FILE: caFile } });
    procs.push(gateway);
    await gateway.waitForOutput(/All services are ready/);
    const health = await httpCall('GET', `http://127.0.0.1:${port}/health`, { timeoutMs: 20_000 });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString())).toMatchObject({ ok: true, status: 'live' }); // OpenClaw's own answer
    await gateway.waitForOutput(/access_log: .*attested=true/, 5000);

    // `cai connect` for a user outside the cluster: loopback listener, verified against the AS, facts printed.
    const connectPort = await freePort();
    const connect = async () => {
      const out: string[] = [];
      const err: string[] = [];
      const io = { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t), readStdin: () => Promise.resolve(Buffer.alloc(0)), env: { ...process.env, KUBECONFIG: kubeconfigFile } };
      const code = await connectCommand.run(['claw', '-n', ns, '--port', String(connectPort), '--as-url', `https://127.0.0.1:${asPort}`, '--once'], io);
      return { code, out: out.join(''), err: err.join('') };
    };
    const ok = await connect();
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain(`http://127.0.0.1:${connectPort}`);
    expect(ok.out).toContain(`under policy ${ns}/dev/claw`);
    expect(ok.out).toContain('attested=true');
    expect(ok.out).toContain('sample evidence affirming');

    // Policy flip. Operator layer: the re-attestation fails and the gateway Deployment is scaled to zero in
    // that reconcile. AS layer: the AS stops affirming this instance. Measured with TNG 2.12 (rats-TLS): a
    // running ingress does not ask the AS again for new connections to an egress it has verified (one token
    // for 5 connections over 35 s, token exp 3 s, egress refresh_interval 0), so the AS layer refuses what a
    // *fresh* gateway verifies — which is why the operator removes the running gateway itself.
    await customObjects(kc).patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns, plural: 'attestationpolicies', name: 'dev', body: { spec: { sample: null, minimumStatus: 'affirming' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const revoked = await waitFor('EndpointReady=False', async () => {
      const x = await getAgent(kc, ns, 'claw');
      return conditionOf(x, 'EndpointReady')?.status === 'False' ? x : undefined;
    }, { timeoutMs: 30_000 });
    expect(conditionOf(revoked, 'EndpointReady')?.reason).toBe('Revoked');
    expect((await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns, name: 'claw-gateway' })).spec?.replicas).toBe(0);
    await gateway.stop(); // what scaling the Deployment to zero does to the Pod

    // A fresh gateway with the same config (a Pod started again, e.g. by hand) is refused by the AS.
    const fresh = launchTng(JSON.parse(local) as object, { env: { SSL_CERT_FILE: caFile } });
    procs.push(fresh);
    await fresh.waitForOutput(/All services are ready/);
    const refused = await httpCall('GET', `http://127.0.0.1:${port}/health`, { timeoutMs: 20_000 }).then((r) => r.status, () => 'refused' as const);
    expect(refused).not.toBe(200);
    await fresh.waitForOutput(/EarStatusNotAffirming/, 10_000);
    expect(fresh.output()).not.toMatch(/attested=true/);
    // `cai connect` needs a serving endpoint, and the AS refuses the instance anyway.
    const after = await connect();
    expect(after.code).toBe(1);
    expect(after.err).toMatch(/no serving endpoint \(EndpointReady: Revoked/);
  }, 300_000);
});
