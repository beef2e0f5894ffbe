// `cai kbs` as its own process (the chart's separate KBS Deployment) against the real API server: the
// operator runs with --kbs-embedded=false and tells guests the separate KBS's URL and CA; a KBS-mode
// guest fetches its credential from it over TLS; a requester at an address with no agent gets no session.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/common.ts';
import { METRIC } from '../../src/metrics/names.ts';
import { series } from '../support/prom-text.ts';
import { parseKbsProcessConfig, startKbsProcess, type KbsProcess } from '../../src/app/kbs-process.ts';
import { KBS_RECEIPTS_ANNOTATION } from '../../src/app/kbs-receipts.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { runCli } from '../../src/cli/main.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { localGuests, type LocalGuests } from '../../src/sim/local/guest-launcher.ts';
import { BOOTSTRAP_RESOURCE } from '../../src/sim/guest/guest.ts';
import { httpCall } from '../../src/sim/guest/http.ts';
import { generateKbsTls } from '../../src/release/kbs/tls.ts';
import { seal } from '../../src/release/sealing/envelope.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { capturingLogger, createCustom, getAgent, localAgent, startTestOperator } from '../support/operator.ts';

const controlPlane = useControlPlane();
const OPERATOR_NS = 'cai-kbs-proc';
const SECRET = 'separate-kbs-secret-61b0';
const PATH = 'default/local-resources/separate_kbs';

describe('cai kbs as its own process', () => {
  let cloud: LocalCloud;
  let guests: LocalGuests;
  let operator: OperatorHandle;
  let kbs: KbsProcess;
  let ca: string;
  let ns: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbs-proc-'));
    const tls = await generateKbsTls(['127.0.0.1']);
    writeFileSync(join(dir, 'tls.crt'), tls.cert);
    writeFileSync(join(dir, 'tls.key'), tls.key);
    writeFileSync(join(dir, 'ca.crt'), tls.guestTrust);
    ca = tls.guestTrust;
    const kc = controlPlane().kubeConfig();
    // In a cluster the chart creates the namespace; here the KBS starts before the operator would.
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: OPERATOR_NS } } });
    const tlsFlags = ['--kbs-tls-cert', join(dir, 'tls.crt'), '--kbs-tls-key', join(dir, 'tls.key'), '--kbs-tls-ca', join(dir, 'ca.crt')];
    kbs = await startKbsProcess(parseKbsProcessConfig(['--operator-namespace', OPERATOR_NS, '--kbs-host', '127.0.0.1', '--kbs-port', '0', '--http-host', '127.0.0.1', '--http-port', '0', ...tlsFlags], {}), {
      logger: capturingLogger().logger,
      kubeConfig: kc,
    });
    guests = localGuests();
    cloud = await startLocalCloud({ launchGuest: guests.launch, pendingMs: 5 });
    operator = await startTestOperator(kc, ['--local-cloud-url', cloud.url, '--operator-namespace', OPERATOR_NS, '--gc-interval', '3600', '--kbs-embedded', 'false', '--kbs-public-url', kbs.kbs.url, '--kbs-tls-ca', join(dir, 'ca.crt')]);
    ns = await createNamespace(kc, 'kbs-proc');
  });
  afterAll(async () => {
    await operator?.stop();
    await kbs?.stop();
    await cloud?.close();
  });

  it('is registered as a cai subcommand with a usage text', async () => {
    let err = '';
    const code = await runCli(['kbs', '--kbs-port', 'x'], { stdout: () => undefined, stderr: (t) => (err += t), readStdin: async () => Buffer.alloc(0), env: {} });
    expect([code, err]).toEqual([2, "cai kbs: --kbs-port must be an integer between 0 and 65535, got 'x'\n"]);
  });

  it('a KBS-mode guest is sent to the separate KBS and fetches its credential over TLS', async () => {
    const kc = controlPlane().kubeConfig();
    await createCustom(kc, 'attestationpolicies', ns, { apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name: 'dev' }, spec: { allowSampleTee: true, minimumStatus: 'warning' } });
    const cert = await waitFor('sealing cert', async () => (await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: OPERATOR_NS }).catch(() => undefined))?.data?.['cert.pem']);
    const scope = { mode: 'Strict' as const, agents: ['agent-s'] };
    await createCustom(kc, 'sealedcredentials', ns, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'SealedCredential',
      metadata: { name: 'cred-s' },
      spec: { resourcePath: PATH, scope, encryptedData: seal(cert, Buffer.from(SECRET), { namespace: ns, name: 'cred-s', ...scope, resourcePath: PATH }) },
    });
    await createCustom(kc, 'confidentialagents', ns, localAgent('agent-s', 'dev', { credentials: [{ name: 'cred-s' }], delivery: { mode: 'KBS' } }));
    const guest = await waitFor('guest fetched from the separate KBS', async () => {
      const a = await getAgent(kc, ns, 'agent-s');
      const g = guests.guest(a?.status?.instance?.id ?? '');
      return g?.resources().has(PATH) ? g : undefined;
    }, { timeoutMs: 60_000 });
    expect(guest.resources().get(PATH)?.toString()).toBe(SECRET);
    expect(JSON.parse(guest.resources().get(BOOTSTRAP_RESOURCE)?.toString() ?? '{}')).toEqual({ mode: 'kbs', kbs_url: kbs.kbs.url, kbs_cert: ca });
    // The separate KBS records the release on the agent (a signed receipt), so the operator, which never saw
    // the fetch, marks the credential delivered and the agent Ready.
    const ready = await waitFor('CredentialsReleased from the separate KBS\'s receipt', async () => {
      const a = await getAgent(kc, ns, 'agent-s');
      return a?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 60_000 });
    expect(ready.status?.conditions?.find((c) => c.type === 'CredentialsReleased')).toMatchObject({ status: 'True', reason: 'Delivered' });
    expect(ready.status?.credentials).toEqual([expect.objectContaining({ name: 'cred-s', mode: 'KBS', resourcePath: PATH })]);
    expect(ready.metadata.annotations?.[KBS_RECEIPTS_ANNOTATION]).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('opens no session for an address where no agent runs', async () => {
    // Counted as a delta: the guest of the test above may itself have met a 401 when its first /auth beat
    // the separate KBS's watch to the agent's address (it retries), so the totals are not ours alone.
    const before = await kbsMetrics();
    const r = await httpCall('POST', `${kbs.kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' }, ca, localAddress: '127.0.0.9', agent: new Agent({ keepAlive: false, ca }) });
    expect([r.status, (JSON.parse(r.body.toString()) as { detail: string }).detail]).toEqual([401, 'RCAR handshake Auth failed: UnknownRequester: the attestation was not accepted']);
    const after = await kbsMetrics();
    expect(after.value(METRIC.kbsRequests, { endpoint: 'auth', code: '401' }) - before.value(METRIC.kbsRequests, { endpoint: 'auth', code: '401' })).toBe(1);
    expect(after.value(METRIC.attestationFailures, { tee: 'sample', reason: 'UnknownRequester' }) - before.value(METRIC.attestationFailures, { tee: 'sample', reason: 'UnknownRequester' })).toBe(1);
  });

  it('exposes the KBS domain families on its own /metrics', async () => {
    const { value } = await kbsMetrics();
    for (const endpoint of ['auth', 'attest', 'resource']) expect(value(METRIC.kbsRequests, { endpoint, code: '200' }), endpoint).toBeGreaterThanOrEqual(1);
    expect(value(METRIC.kbsRequests, { endpoint: 'auth', code: '401' })).toBeGreaterThanOrEqual(1);
    expect(value(METRIC.attestations, { tee: 'sample', result: 'pass' })).toBeGreaterThanOrEqual(1);
    expect(value(METRIC.attestationFailures, { tee: 'sample', reason: 'UnknownRequester' })).toBeGreaterThanOrEqual(1);
    expect(value(METRIC.releases, { mode: 'KBS', result: 'delivered' })).toBeGreaterThanOrEqual(1);
    expect(value(`${METRIC.verificationDuration}_count`, { verifier: 'sample' })).toBeGreaterThanOrEqual(1);
    expect(value(METRIC.sealingKeys)).toBe(1);
    expect(value(METRIC.earKeyCreated)).toBeGreaterThan(0);
  });

  /** The separate KBS's /metrics, summed over the series that carry the given labels. */
  async function kbsMetrics() {
    const { host, port } = await kbs.manager.httpAddress;
    const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
    const value = (name: string, labels: Record<string, string> = {}) =>
      series(text, name).filter((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v)).reduce((n, x) => n + x.value, 0);
    return { value };
  }
});
