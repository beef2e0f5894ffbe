// Every domain metric family with real values, fed by a real lifecycle against the real API server: the
// production gn8v-tee policy (TDX + 8 GPUs, test PKIs, loopback PCCS / RIM service / OCSP / Rekor), an agent
// Ready in each delivery mode (KBS in its worker thread), an attestation refused GpuEvidenceMissing, a PCCS
// outage (cached collateral served), and a forked transparency log. Then a scan of every label value for
// secrets, nonces, digests and unbounded strings. (Cloud API families: alibaba-agent.test.ts.)
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GROUP, VERSION } from '../../src/api/common.ts';
import { startOperator, type OperatorHandle } from '../../src/app/operator.ts';
import { loadSigningKey, parseTrustedRoot, publishReferenceValues, RekorClient, type SigningKey } from '../../src/attestation/refvalues/index.ts';
import { runCli } from '../../src/cli/main.ts';
import { METRIC } from '../../src/metrics/names.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { localGuests, type LocalGuests } from '../../src/sim/local/guest-launcher.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { productionPolicy, startHardwareEvidence, type HardwareEvidence } from '../support/hardware-evidence.ts';
import { conditionOf, createCustom, customObjects, getAgent, localAgent, testConfig } from '../support/operator.ts';
import { labelProblems, scrape, series } from '../support/prom-text.ts';
import { TestRekorServer } from '../support/rekor-log/server.ts';

const controlPlane = useControlPlane();
const OPERATOR_NS = 'cai-system';
const HOUR = 3_600_000;
const CLOUD_FAMILIES: readonly string[] = [METRIC.cloudRequests, METRIC.cloudThrottles, METRIC.cloudRateLimitWait];

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

describe('domain metrics over a hardware lifecycle', () => {
  let hw: HardwareEvidence;
  const log = new TestRekorServer();
  let key: SigningKey;
  let withGpus: LocalGuests;
  let withoutGpus: LocalGuests;
  let cloud: LocalCloud;
  let operator: OperatorHandle;
  let ns: string;
  let policyName: string;
  const secrets = ['metrics-push-secret-4b1f9', 'metrics-kbs-secret-77c2e'];
  const startedAt = Date.now() / 1000;
  // `cai status` as it read right after the agents settled (before the outage and the fork change them).
  const statusOut: Record<string, string> = {};
  const cai = async (args: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(['status', ...args, '-n', ns, '--kubeconfig', controlPlane().kubeconfigPath], { stdout: (t) => (out += t), stderr: (t) => (err += t), readStdin: async () => Buffer.alloc(0), env: {} });
    expect(code, err).toBe(0);
    return out;
  };

  beforeAll(async () => {
    // Collateral valid for 12 h: the operator's cache (which refreshes a day ahead) asks the PCCS on every
    // lookup, so an outage shows on the next attestation.
    hw = await startHardwareEvidence({ collateralValidForMs: 12 * HOUR });
    await log.start();
    key = loadSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const prod = productionPolicy(hw);
    const rekor = (prod.raw.tdx as { referenceValues: { rekor: Record<string, unknown> } }).referenceValues.rekor;
    // Earlier, unrelated entries: the fork below rewrites one of them.
    for (let i = 0; i < 2; i++) {
      await publishReferenceValues({ sha384: 'cd'.repeat(48), artifactId: `unrelated-${i}`, artifactVersion: '1', signingKey: key, client: new RekorClient({ url: log.url, retries: 0 }), trust: parseTrustedRoot(log.trustedRootJson()), at: new Date() });
    }
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
    const allow = ['--allowed-pccs-urls', `${new URL(hw.pccsUrl).origin}/`, '--allowed-rekor-urls', log.url, '--allowed-rim-urls', hw.rimServiceUrl, '--allowed-ocsp-urls', hw.ocspUrl];
    operator = await startOperator(testConfig(['--providers', 'local', '--local-cloud-url', cloud.url, '--operator-namespace', OPERATOR_NS, '--gc-interval', '3600', ...allow]), {
      kubeConfig: kc,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      trustAnchors: hw.anchors,
    });
    ns = await createNamespace(kc, 'obs');
    await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'log-roots' }, data: { 'trusted_root.json': log.trustedRootJson() } } });
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

  const until = (kc: KubeConfig, name: string, what: string, test: (a: Awaited<ReturnType<typeof getAgent>>) => boolean) =>
    waitFor(`${name} ${what}`, async () => {
      const a = await getAgent(kc, ns, name);
      return test(a) ? a : undefined;
    }, { timeoutMs: 90_000 });
  const ready = (kc: KubeConfig, name: string) => until(kc, name, 'Ready=True', (a) => conditionOf(a, 'Ready')?.status === 'True');

  it('Ready in both modes, a refusal, a PCCS outage and a log fork give every family real values', async () => {
    const kc = controlPlane().kubeConfig();
    for (const [i, [mode, name]] of ([['Challenge', 'push'], ['KBS', 'pull']] as const).entries()) {
      const path = `default/local-resources/metrics_${name}`;
      await createCustom(kc, 'sealedcredentials', ns, await sealWithCli(kc, ['--from-literal', secrets[i]!, '--name', `cred-${name}`, '--namespace', ns, '--resource-path', path, '--agent', name]));
      await createCustom(kc, 'confidentialagents', ns, localAgent(name, policyName, { credentials: [{ name: `cred-${name}` }], delivery: { mode } }));
    }
    await createCustom(kc, 'confidentialagents', ns, localAgent('no-gpu', policyName));
    await ready(kc, 'push');
    await ready(kc, 'pull');
    await until(kc, 'no-gpu', 'refused', (a) => conditionOf(a, 'Attested')?.reason === 'GpuEvidenceMissing');
    // Object state as it settled (the outage and the fork below change conditions again).
    const conditionIn = (t: string, name: string, condition: string) => series(t, METRIC.agentCondition).filter((x) => x.labels.namespace === ns && x.labels.name === name && x.labels.condition === condition);
    // (The gauges read the informer cache, which follows the API server by a moment.)
    const settled = await waitFor('conditions on /metrics', async () => {
      const t = await scrape(operator);
      return conditionIn(t, 'push', 'Ready')[0]?.labels.status === 'True' && conditionIn(t, 'no-gpu', 'Attested')[0]?.labels.reason === 'GpuEvidenceMissing' ? t : undefined;
    });
    const settledCondition = (name: string, condition: string) => conditionIn(settled, name, condition);
    expect(settledCondition('push', 'Ready')).toEqual([{ labels: { namespace: ns, name: 'push', condition: 'Ready', status: 'True', reason: 'AgentReady' }, value: 1 }]);
    expect(settledCondition('no-gpu', 'Attested')).toEqual([{ labels: { namespace: ns, name: 'no-gpu', condition: 'Attested', status: 'False', reason: 'GpuEvidenceMissing' }, value: 1 }]);
    statusOut.push = await cai(['push']);
    statusOut.refused = await cai(['no-gpu']);
    statusOut.json = await cai(['--json']);
    if (process.env.CAI_CAPTURE_STATUS_FIXTURES) {
      const policy = await customObjects(kc).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'attestationpolicies', name: policyName });
      writeFileSync(process.env.CAI_CAPTURE_STATUS_FIXTURES, JSON.stringify({ ready: await getAgent(kc, ns, 'push'), refused: await getAgent(kc, ns, 'no-gpu'), policy }, null, 2));
    }

    // PCCS outage: the next attestation is verified with the cached (unexpired) collateral.
    const operatorHost = (t: string, name: string) => series(t, name).find((x) => x.labels.host === 'operator')?.value;
    const beforeOutage = operatorHost(await scrape(operator), METRIC.pccsLastSuccess) ?? 0;
    hw.setPccsAvailable(false);
    await createCustom(kc, 'confidentialagents', ns, localAgent('stale', policyName));
    await ready(kc, 'stale');
    let text = await scrape(operator);
    // The operator's cache (challenge mode) served stale; the KBS worker's cache (KBS mode) has its own series.
    expect(series(text, METRIC.collateralServingStale)).toEqual([{ labels: { host: 'operator' }, value: 1 }, { labels: { host: 'kbs' }, value: 0 }]);
    expect(operatorHost(text, METRIC.pccsLastSuccess)).toBe(beforeOutage);
    expect(series(text, METRIC.pccsLastSuccess).find((x) => x.labels.host === 'kbs')?.value).toBeGreaterThanOrEqual(Math.floor(startedAt));
    hw.setPccsAvailable(true);

    // The log rewrites an old entry and grows; a refresh of the policy exposes the fork.
    const logChecked = series(text, METRIC.logConsistencyCheck).find((s) => s.labels.name === policyName)?.value ?? 0;
    expect(logChecked).toBeGreaterThanOrEqual(Math.floor(startedAt));
    expect(series(text, METRIC.logInconsistent).find((s) => s.labels.name === policyName)?.value).toBe(0);
    log.log.fork(1, Buffer.from('{"rewritten":"history"}'));
    await publishReferenceValues({ sha384: 'ef'.repeat(48), artifactId: 'after-fork', artifactVersion: '1', signingKey: key, client: new RekorClient({ url: log.url, retries: 0 }), trust: parseTrustedRoot(log.trustedRootJson()), at: new Date() });
    await customObjects(kc).patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns, plural: 'attestationpolicies', name: policyName, body: { metadata: { annotations: { 'confidential-agent.io/refresh': '1' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    text = await waitFor('log_inconsistent=1', async () => {
      const t = await scrape(operator);
      const forkSeen = series(t, METRIC.logInconsistent).find((s) => s.labels.name === policyName)?.value === 1;
      const conditionSeen = series(t, METRIC.policyCondition).some((s) => s.labels.name === policyName && s.labels.reason === 'LogInconsistent');
      return forkSeen && conditionSeen ? t : undefined;
    });

    const one = (name: string, labels: Record<string, string> = {}) =>
      series(text, name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    const value = (name: string, labels: Record<string, string> = {}) => one(name, labels).reduce((sum, s) => sum + s.value, 0);
    const now = Date.now() / 1000;

    // Object state.
    // (After the fork the agents are Ready=False PolicyNotReady: the series follow the condition.)
    expect(one(METRIC.agentCondition, { namespace: ns, name: 'push', condition: 'Ready' })).toHaveLength(1);
    expect(one(METRIC.agentCondition, { namespace: ns, name: 'push', condition: 'Provisioned', status: 'True', reason: 'InstanceRunning' })).toHaveLength(1);
    expect(one(METRIC.agentAttestationStatus, { name: 'pull', status: 'affirming' })[0]?.value).toBe(1);
    expect(value(METRIC.agentNextAttestation, { name: 'push' })).toBeGreaterThan(now);
    expect(value(`${METRIC.agentTimeToReady}_count`)).toBeGreaterThanOrEqual(3);
    expect(value(METRIC.instances, { provider: 'local', state: 'Running' })).toBe(4);
    expect(one(METRIC.policyCondition, { name: policyName, condition: 'Ready', status: 'False', reason: 'LogInconsistent' })).toHaveLength(1);
    expect(value(METRIC.policyCheckpointTreeSize, { name: policyName })).toBeGreaterThanOrEqual(1);
    expect(value(METRIC.policyLastResolved, { name: policyName })).toBeGreaterThanOrEqual(Math.floor(startedAt));
    expect(one(METRIC.credentialCondition, { name: 'cred-push', condition: 'Ready', status: 'True' })).toHaveLength(1);
    // Attestation: challenge pushes and KBS handshakes, passed and refused, timed per verifier.
    expect(value(METRIC.attestations, { tee: 'tdx', result: 'pass' })).toBeGreaterThanOrEqual(4);
    expect(value(METRIC.attestations, { tee: 'tdx', result: 'fail' })).toBeGreaterThanOrEqual(1);
    expect(value(METRIC.attestationFailures, { tee: 'tdx', reason: 'GpuEvidenceMissing' })).toBeGreaterThanOrEqual(1);
    expect(value(`${METRIC.verificationDuration}_count`, { verifier: 'tdx' })).toBeGreaterThanOrEqual(4);
    expect(value(`${METRIC.verificationDuration}_count`, { verifier: 'nvidia' })).toBeGreaterThanOrEqual(4);
    expect(value(`${METRIC.verificationDuration}_sum`, { verifier: 'nvidia' })).toBeGreaterThan(0);
    // Releases and the KBS (its counters crossed from the worker thread).
    // (At least once: a reconcile whose status write conflicts delivers again on its retry, and that counts.)
    expect(value(METRIC.releases, { mode: 'Challenge', result: 'delivered' })).toBeGreaterThanOrEqual(1);
    expect(value(METRIC.releases, { mode: 'KBS', result: 'delivered' })).toBeGreaterThanOrEqual(1);
    for (const endpoint of ['auth', 'attest', 'resource']) expect(value(METRIC.kbsRequests, { endpoint, code: '200' }), endpoint).toBeGreaterThanOrEqual(1);
    expect(value(METRIC.kbsSessions)).toBeGreaterThanOrEqual(1);
    // Trust material.
    const collateral = one(METRIC.collateralNextUpdate);
    expect(new Set(collateral.map((s) => s.labels.kind))).toEqual(new Set(['tcb_info', 'qe_identity', 'pck_crl', 'root_ca_crl']));
    expect(collateral.every((s) => /^[0-9A-F]{12}$/.test(s.labels.fmspc ?? ''))).toBe(true);
    expect(value(METRIC.collateralNextUpdate, { kind: 'tcb_info' }) / collateral.filter((s) => s.labels.kind === 'tcb_info').length).toBeCloseTo(now + 12 * 3600, -3);
    expect(value(METRIC.pccsLastSuccess)).toBeGreaterThanOrEqual(Math.floor(startedAt));
    expect(value(METRIC.rimCertExpiry, { kind: 'rim_signing' })).toBeGreaterThan(now);
    expect(value(METRIC.rimCertExpiry, { kind: 'ocsp' })).toBeGreaterThan(now);
    expect(value(METRIC.sealingKeys)).toBe(1);
    expect(value(METRIC.sealingKeyCreated)).toBeGreaterThan(0);
    expect(value(METRIC.sealingKeyCreated)).toBeLessThanOrEqual(now);
    expect(value(METRIC.earKeyCreated)).toBeGreaterThan(0);

    // Every domain family except the cloud API's (no cloud here) has at least one series.
    for (const family of Object.values(METRIC).filter((m) => !CLOUD_FAMILIES.includes(m))) {
      const has = series(text, family).length + series(text, `${family}_count`).length;
      expect(has, family).toBeGreaterThan(0);
    }
  });

  it('`cai status` shows the Ready agent\'s verified facts and the refused agent\'s reason, with no secret', async () => {
    const kc = controlPlane().kubeConfig();
    const push = await getAgent(kc, ns, 'push');
    const text = statusOut.push!;
    expect(text).toMatch(/^ConfidentialAgent obs-\S+\/push: Ready=True \(AgentReady\)\n/);
    expect(text).toContain(`Instance:     local ${push?.status?.instance?.id} Running`);
    expect(text).toMatch(/Last appraisal: AFFIRMING \(tdx\)/);
    expect(text).toMatch(/cpu0 +tdx +affirming +[a-z-]+=\d/);
    expect(text).toMatch(/gpu0 +nvidia +affirming +[a-z-]+=\d/);
    expect(text).toContain('TDX:  TCB UpToDate, no advisories, FMSPC 00806F050000');
    expect(text).toMatch(/ {4}MRTD {3}[0-9a-f]{96}\n/);
    expect(text.match(/ {4}RTMR[0-3] {2}[0-9a-f]{96}\n/g)).toHaveLength(4);
    // The booted UKI, and the Rekor entry the image builder published it in (the third entry: index 2).
    expect(text).toContain(`UKI    ${hw.ukiSha384}`);
    expect(text).toMatch(/matched reference value \S+ \(Rekor log index \d+\)/);
    expect(text).toMatch(/GPUs: 8\n {4}8 x HOPPER driver \S+ VBIOS \S+; RIMs NV_GPU_DRIVER_\S+, NV_GPU_VBIOS_\S+\n/);
    expect(text).toMatch(/cred-push +Challenge +sha256 [0-9a-f]{16}…/);
    expect(text).toMatch(/Next re-attestation: \S+ \(in \d+/);
    expect(text).toMatch(/TDX collateral \(FMSPC 00806F050000\) +expires +\S+ +\(in 1[01]h/);
    expect(text).toMatch(/NVIDIA RIMs .* expires/);

    const refused = statusOut.refused!;
    expect(refused).toMatch(/Ready=False \(GpuEvidenceMissing\)/);
    expect(refused).toMatch(/Attested +False +GpuEvidenceMissing/);
    expect(refused).toContain('Last appraisal: none (the agent has not been attested)');
    expect(refused).toContain('Credentials delivered: none');

    // --json: the same facts for scripts; all agents of the namespace without a name.
    const all = JSON.parse(statusOut.json!) as Array<{ name: string; appraisal?: { tdx?: { ukiDigest?: string }; gpus?: unknown[] } }>;
    expect(all.map((r) => r.name)).toEqual(['no-gpu', 'pull', 'push']);
    expect(all.find((r) => r.name === 'pull')?.appraisal?.tdx?.ukiDigest).toBe(hw.ukiSha384);
    expect(all.find((r) => r.name === 'pull')?.appraisal?.gpus).toHaveLength(8);
    for (const out of [text, refused, JSON.stringify(all)]) for (const s of secrets) expect(out).not.toContain(s);
  });

  it('no label value carries a secret, a nonce, a digest, an instance ID or an unbounded string', async () => {
    const kc = controlPlane().kubeConfig();
    const text = await scrape(operator);
    const forbidden = [...secrets];
    for (const name of ['push', 'pull', 'no-gpu', 'stale']) {
      const a = await getAgent(kc, ns, name);
      forbidden.push(...[a?.status?.instance?.id, a?.status?.instance?.address, a?.status?.attestation?.tokenDigest, ...(a?.status?.credentials ?? []).map((c) => c.digest)].filter((v): v is string => !!v));
    }
    expect(forbidden.length).toBeGreaterThan(6);
    expect(labelProblems(text, forbidden)).toEqual([]);
    // The scan can fail: a nonce-like or secret-carrying label is reported.
    expect(labelProblems(`x{reason="${'ab'.repeat(16)}"} 1\ny{v="${secrets[0]}"} 1`, forbidden)).toHaveLength(2);
  });
});
