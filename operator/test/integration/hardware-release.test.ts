// The gn8v-tee production path end to end against the real kube-apiserver: the shipped production policy
// (policies/attestation/gn8v-tee-production.yaml, parsed from the file) with only its trust material swapped
// for test PKIs and loopback services (Intel/NVIDIA roots given to the operator; PCCS, RIM service, OCSP
// responder and Rekor log endpoints, the log's key and trusted root), local guests presenting a TDX quote +
// CC event log and eight H100 GPU reports re-signed over each fresh nonce. Both delivery modes reach Ready;
// a guest without GPU evidence is refused GpuEvidenceMissing; an agent naming a provider this operator does not
// run gets a condition, not a crash.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GROUP, VERSION } from '../../src/api/common.ts';
import { startOperator, type OperatorHandle } from '../../src/app/operator.ts';
import { loadSigningKey, parseTrustedRoot, publishReferenceValues, RekorClient } from '../../src/attestation/refvalues/index.ts';
import { runCli } from '../../src/cli/main.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { localGuests, type LocalGuests } from '../../src/sim/local/guest-launcher.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { GPU_COUNT, productionPolicy, startHardwareEvidence, type HardwareEvidence } from '../support/hardware-evidence.ts';
import { conditionOf, createCustom, getAgent, localAgent, testConfig } from '../support/operator.ts';
import { TestRekorServer } from '../support/rekor-log/server.ts';

const controlPlane = useControlPlane();
const OPERATOR_NS = 'cai-system';

async function sealWithCli(kc: KubeConfig, args: string[]): Promise<Record<string, unknown>> {
  const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: OPERATOR_NS });
  const dir = mkdtempSync(join(tmpdir(), 'cai-seal-'));
  writeFileSync(join(dir, 'cert.pem'), cm.data?.['cert.pem'] ?? '');
  let out = '';
  let err = '';
  const code = await runCli(['seal', '--cert', join(dir, 'cert.pem'), ...args], { stdout: (t) => (out += t), stderr: (t) => (err += t), readStdin: async () => Buffer.alloc(0), env: {} });
  expect(code, err).toBe(0);
  return parse(out) as Record<string, unknown>;
}

describe('gn8v-tee production policy: TDX + 8 GPUs, both delivery modes (local guests, test PKIs)', () => {
  let hw: HardwareEvidence;
  const log = new TestRekorServer();
  let withGpus: LocalGuests;
  let withoutGpus: LocalGuests;
  let cloud: LocalCloud;
  let operator: OperatorHandle;
  let ns: string;
  let policyName: string;

  beforeAll(async () => {
    hw = await startHardwareEvidence();
    // The image builder publishes the UKI digest to the log, signed with its key (`cai refvalues publish`).
    await log.start();
    const key = loadSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const prod = productionPolicy(hw);
    const rekor = (prod.raw.tdx as { referenceValues: { rekor: Record<string, unknown> } }).referenceValues.rekor;
    await publishReferenceValues({
      sha384: hw.ukiSha384,
      artifactId: rekor.artifactId as string,
      artifactVersion: (rekor.allowedVersions as string[])[0]!,
      signingKey: key,
      client: new RekorClient({ url: log.url, retries: 0 }),
      trust: parseTrustedRoot(log.trustedRootJson()),
      at: new Date(),
    });
    withGpus = localGuests('127.0.0.1', { attester: hw.attester() });
    withoutGpus = localGuests('127.0.0.1', { attester: hw.attester({ gpus: 0 }) });
    cloud = await startLocalCloud({ launchGuest: (record, req) => (record.owner.name === 'no-gpu' ? withoutGpus : withGpus).launch(record, req), pendingMs: 5 });
    const kc = controlPlane().kubeConfig();
    // The loopback PCCS, log, RIM service and OCSP responder stand in for Intel PCS, the public-good Rekor and
    // NVIDIA's services: the operator's egress allow-lists name them.
    const allow = [
      ...['--allowed-pccs-urls', `${new URL(hw.pccsUrl).origin}/`, '--allowed-rekor-urls', log.url],
      ...['--allowed-rim-urls', hw.rimServiceUrl, '--allowed-ocsp-urls', hw.ocspUrl],
    ];
    operator = await startOperator(testConfig(['--providers', 'local', '--local-cloud-url', cloud.url, '--operator-namespace', OPERATOR_NS, '--gc-interval', '3600', ...allow]), {
      kubeConfig: kc,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      trustAnchors: hw.anchors,
    });
    ns = await createNamespace(kc, 'gn8v');
    await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'log-roots' }, data: { 'trusted_root.json': log.trustedRootJson() } } });
    // The log's endpoint, key and trusted root are trust material too; the rest of the rekor block is verbatim.
    Object.assign(rekor, { url: log.url, publicKey: key.publicKeyPem, trustedRootRef: { name: 'log-roots', key: 'trusted_root.json' } });
    policyName = prod.name;
    await createCustom(kc, 'attestationpolicies', ns, { apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name: policyName }, spec: prod.raw });
  });
  afterAll(async () => {
    await operator?.stop();
    await cloud?.close();
    await log.stop();
    await hw?.close();
  });

  const readyAgent = (kc: KubeConfig, name: string) =>
    waitFor(`${name} Ready=True`, async () => {
      const a = await getAgent(kc, ns, name);
      return conditionOf(a, 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 90_000 });

  it.each([
    ['Challenge', 'gpu-push', 'dingtalk-secret-hw-push-6e1a'],
    ['KBS', 'gpu-kbs', 'gateway-token-hw-kbs-93b7'],
  ])('%s mode reaches Ready: affirming TDX + GPU appraisal, the guest decrypts exactly the sealed value', async (mode, name, secret) => {
    const kc = controlPlane().kubeConfig();
    const path = `default/local-resources/${name.replace('-', '_')}`;
    const before = hw.produced();
    await createCustom(kc, 'sealedcredentials', ns, await sealWithCli(kc, ['--from-literal', secret, '--name', `cred-${name}`, '--namespace', ns, '--resource-path', path, '--agent', name]));
    await createCustom(kc, 'confidentialagents', ns, localAgent(name, policyName, { credentials: [{ name: `cred-${name}` }], delivery: { mode } }));
    const agent = await readyAgent(kc, name);
    expect(conditionOf(agent, 'Attested')).toMatchObject({ status: 'True', reason: 'Affirming' });
    expect(agent.status?.attestation).toMatchObject({ teeType: 'tdx', status: 'affirming' });
    expect(agent.status?.credentials?.[0]).toMatchObject({ name: `cred-${name}`, resourcePath: path, mode });
    const guest = withGpus.guest(agent.status?.instance?.id ?? '');
    expect(guest?.resources().get(path)?.toString('utf8')).toBe(secret);
    // Every attestation (bootstrap push, credential push or KBS handshake) re-signed fresh evidence over its nonce.
    const after = hw.produced();
    expect(after.quotes - before.quotes).toBeGreaterThanOrEqual(2);
    expect(after.gpuReports - before.gpuReports).toBe((after.quotes - before.quotes) * GPU_COUNT);
  });

  it('a guest without GPU evidence is refused GpuEvidenceMissing; nothing is released', async () => {
    const kc = controlPlane().kubeConfig();
    await createCustom(kc, 'sealedcredentials', ns, await sealWithCli(kc, ['--from-literal', 'never-released-5f0e', '--name', 'cred-no-gpu', '--namespace', ns, '--resource-path', 'default/local-resources/no_gpu', '--agent', 'no-gpu']));
    await createCustom(kc, 'confidentialagents', ns, localAgent('no-gpu', policyName, { credentials: [{ name: 'cred-no-gpu' }] }));
    const agent = await waitFor('no-gpu refused', async () => {
      const a = await getAgent(kc, ns, 'no-gpu');
      const attested = conditionOf(a, 'Attested');
      return attested?.status === 'False' && !['WaitingForInstance', 'Reconciling', 'PolicyNotReady'].includes(attested.reason) ? a : undefined;
    }, { timeoutMs: 90_000 });
    expect(conditionOf(agent, 'Attested')).toMatchObject({ status: 'False', reason: 'GpuEvidenceMissing' });
    expect(conditionOf(agent, 'CredentialsReleased')).toMatchObject({ status: 'False', reason: 'NotAttested' });
    expect(withoutGpus.guest(agent.status?.instance?.id ?? '')?.resources().size).toBe(0);
  });

  it('an agent naming a provider this operator does not run gets ProviderNotConfigured naming the flag', async () => {
    const kc = controlPlane().kubeConfig();
    await createCustom(kc, 'confidentialagents', ns, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'ConfidentialAgent',
      metadata: { name: 'on-alibaba' },
      spec: { instance: { alibaba: { regionId: 'cn-beijing', zoneId: 'cn-beijing-l', instanceType: 'ecs.gn8v-tee.4xlarge', imageId: 'm-test', vSwitchId: 'vsw-test', securityGroupId: 'sg-test' } }, attestationPolicyRef: { name: policyName } },
    });
    const agent = await waitFor('on-alibaba Provisioned=False', async () => {
      const a = await getAgent(kc, ns, 'on-alibaba');
      return conditionOf(a, 'Provisioned')?.reason === 'ProviderNotConfigured' ? a : undefined;
    });
    expect(conditionOf(agent, 'Provisioned')?.message).toContain('--providers');
    expect(conditionOf(agent, 'Ready')?.status).toBe('False');
  });
});
