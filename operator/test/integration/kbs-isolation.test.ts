// The KBS off the operator's event loop (issue 10, item 1), against the real API server: while a fuzzer
// sends every field at the production body limit to the operator's KBS (HTTPS, from the chart-style
// --kbs-tls-cert/--kbs-tls-key files), the operator's main thread stays responsive (event-loop delay),
// a genuine /auth is answered fast, and the leader-election Lease keeps being renewed on time. The same
// operator also delivers a KBS-mode credential to a local guest over TLS (kbs_cert in the bootstrap push).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { CoordinationV1Api, CoreV1Api, EventsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { localGuests, type LocalGuests } from '../../src/sim/local/guest-launcher.ts';
import { BOOTSTRAP_RESOURCE } from '../../src/sim/guest/guest.ts';
import { httpCall } from '../../src/sim/guest/http.ts';
import { generateKbsTls } from '../../src/release/kbs/tls.ts';
import { seal } from '../../src/release/sealing/envelope.ts';
import { generateTeeKeyPair } from '../../src/protocol/tee-key.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import type { FuzzResult } from '../support/kbs-fuzz.ts';
import { METRIC } from '../../src/metrics/names.ts';
import { labelProblems, scrape, series } from '../support/prom-text.ts';
import { capturingLogger, conditionOf, createCustom, getAgent, localAgent, startTestOperator } from '../support/operator.ts';

const controlPlane = useControlPlane();
const OPERATOR_NS = 'cai-kbs-iso';
const LEASE = 'kbs-isolation';
const RETRY_PERIOD_MS = 2_000;
const SECRET = 'kbs-isolation-secret-3e7a';
const PATH = 'default/local-resources/kbs_isolation';

describe('KBS isolation from the operator event loop', () => {
  let cloud: LocalCloud;
  let guests: LocalGuests;
  let operator: OperatorHandle;
  let ca: string;
  let kbsUrl: string;
  let ns: string;
  const captured = capturingLogger();

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbs-iso-'));
    const tls = await generateKbsTls(['127.0.0.1']);
    writeFileSync(join(dir, 'tls.crt'), tls.cert);
    writeFileSync(join(dir, 'tls.key'), tls.key);
    writeFileSync(join(dir, 'ca.crt'), tls.guestTrust);
    ca = tls.guestTrust;
    guests = localGuests();
    cloud = await startLocalCloud({ launchGuest: guests.launch, pendingMs: 5 });
    const kc = controlPlane().kubeConfig();
    operator = await startTestOperator(
      kc,
      [
        ...['--local-cloud-url', cloud.url, '--operator-namespace', OPERATOR_NS, '--gc-interval', '3600', '--leader-elect', 'true', '--lease-name', LEASE],
        ...['--kbs-tls-cert', join(dir, 'tls.crt'), '--kbs-tls-key', join(dir, 'tls.key'), '--kbs-tls-ca', join(dir, 'ca.crt')],
      ],
      captured.logger,
    );
    const listening = captured.lines.map((l) => JSON.parse(l) as { msg?: string; url?: string }).find((l) => l.msg === 'kbs listening');
    kbsUrl = listening?.url ?? '';
    ns = await createNamespace(kc, 'kbs-iso');
  });
  afterAll(async () => {
    await operator?.stop();
    await cloud?.close();
  });

  it('serves HTTPS and a KBS-mode guest fetches its credential over TLS with the kbs_cert it was pushed', async () => {
    expect(kbsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const kc = controlPlane().kubeConfig();
    await createCustom(kc, 'attestationpolicies', ns, { apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name: 'dev' }, spec: { allowSampleTee: true, minimumStatus: 'warning' } });
    const cert = (await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: OPERATOR_NS })).data?.['cert.pem'] ?? '';
    const scope = { mode: 'Strict' as const, agents: ['agent-k'] };
    await createCustom(kc, 'sealedcredentials', ns, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'SealedCredential',
      metadata: { name: 'cred-k' },
      spec: { resourcePath: PATH, scope, encryptedData: seal(cert, Buffer.from(SECRET), { namespace: ns, name: 'cred-k', ...scope, resourcePath: PATH }) },
    });
    await createCustom(kc, 'confidentialagents', ns, localAgent('agent-k', 'dev', { credentials: [{ name: 'cred-k' }], delivery: { mode: 'KBS' } }));
    const agent = await waitFor('agent-k Ready', async () => {
      const a = await getAgent(kc, ns, 'agent-k');
      return conditionOf(a, 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 60_000 });
    const guest = guests.guest(agent.status?.instance?.id ?? '');
    expect(guest?.resources().get(PATH)?.toString()).toBe(SECRET);
    const bootstrap = JSON.parse(guest?.resources().get(BOOTSTRAP_RESOURCE)?.toString() ?? '{}') as Record<string, string>;
    expect(bootstrap).toMatchObject({ mode: 'kbs', kbs_url: kbsUrl, kbs_cert: ca });
  });

  it('fuzzing the KBS at the production body limit leaves the main thread, a genuine /auth and Lease renewal under 100 ms', async () => {
    const kc = controlPlane().kubeConfig();
    const coord = kc.makeApiClient(CoordinationV1Api);
    const renewals: number[] = [];
    const pollLease = async () => {
      const lease = await coord.readNamespacedLease({ name: LEASE, namespace: OPERATOR_NS });
      const t = lease.spec?.renewTime ? new Date(lease.spec.renewTime as unknown as string).getTime() : 0;
      if (t && renewals.at(-1) !== t) renewals.push(t);
    };
    const auths: number[] = [];
    const authOnce = async () => {
      const started = performance.now();
      const r = await httpCall('POST', `${kbsUrl}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' }, ca, agent: new Agent({ keepAlive: false, ca }) });
      auths.push(performance.now() - started);
      // use the session up (it would otherwise count against this address's unauthenticated allowance)
      const cookie = String(r.headers['set-cookie'] ?? '').split(';')[0]!;
      if (cookie) await httpCall('POST', `${kbsUrl}/kbs/v0/attest`, { body: {}, ca, headers: { cookie }, agent: new Agent({ keepAlive: false, ca }) });
      return r.status;
    };

    const measure = async (durationMs: number, during?: Promise<unknown>) => {
      renewals.length = 0;
      auths.length = 0;
      const lag = monitorEventLoopDelay({ resolution: 10 });
      lag.enable();
      const elu = performance.eventLoopUtilization();
      const end = Date.now() + durationMs;
      const statuses: number[] = [];
      while (Date.now() < end) {
        await pollLease();
        statuses.push(await authOnce());
        await new Promise((r) => setTimeout(r, 200));
      }
      await during;
      lag.disable();
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
      const late = renewals.slice(1).map((t, i) => t - renewals[i]! - RETRY_PERIOD_MS);
      return {
        mainThreadUtilization: Number(performance.eventLoopUtilization(elu).utilization.toFixed(3)),
        lagMaxMs: Math.round(lag.max / 1e6),
        lagP99Ms: Math.round(lag.percentile(99) / 1e6),
        authMaxMs: Math.round(Math.max(...auths)),
        authP50Ms: Math.round(median(auths)),
        renewalLateMaxMs: Math.max(...late),
        renewalLateP50Ms: median(late),
        renewals: renewals.length,
        statuses: [...new Set(statuses)],
      };
    };

    const quiet = await measure(6_000);
    const worker = new Worker(new URL('../support/kbs-fuzz-worker.ts', import.meta.url), { workerData: { url: kbsUrl, ca, durationMs: 12_000, concurrency: 4 } });
    const fuzzed = new Promise<FuzzResult>((resolve, reject) => {
      worker.on('message', (m: { type: string; result?: FuzzResult }) => m.type === 'done' && resolve(m.result!));
      worker.on('error', reject);
    });
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));
    const loaded = await measure(10_000);
    const fuzz = await fuzzed;
    await worker.terminate();
    const fuzzWorst = Math.max(...fuzz.latencies.map((l) => l.ms));
    console.log('KBS isolation', JSON.stringify({ quiet, loaded, fuzz: { requests: fuzz.requests, worstMs: Math.round(fuzzWorst) } }));

    expect(fuzz.requests).toBeGreaterThan(20);
    expect(fuzz.latencies.every((l) => l.status === 401 || l.status === -1)).toBe(true);
    expect(loaded.renewals).toBeGreaterThanOrEqual(3);
    // Against the same run's quiet phase: the machine is shared (load averages of 15-20 on 2 cores were
    // seen), so CPU starvation from other processes shows in both phases; what the fuzzed KBS adds to
    // the main thread must stay under 100 ms. Maxima are printed above (and recorded in the notes).
    expect(loaded.lagP99Ms - quiet.lagP99Ms).toBeLessThan(100);
    expect(loaded.renewalLateP50Ms).toBeLessThan(100);
    expect(loaded.authP50Ms).toBeLessThan(100);
    expect(loaded.statuses).toEqual([200]);
  });

  it('a refused requester gets a generic reply; the detail goes to an Event on the agent it claimed to be', async () => {
    const kc = controlPlane().kubeConfig();
    const agent = new Agent({ keepAlive: false, ca });
    const auth = await httpCall('POST', `${kbsUrl}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' }, ca, agent });
    const cookie = String(auth.headers['set-cookie']).split(';')[0]!;
    const body = { 'runtime-data': { nonce: Buffer.alloc(32, 1).toString('base64'), 'tee-pubkey': generateTeeKeyPair().publicKey }, 'tee-evidence': { primary_evidence: { svn: '1' }, additional_evidence: '' } };
    const r = await httpCall('POST', `${kbsUrl}/kbs/v0/attest`, { body, ca, headers: { cookie }, agent: new Agent({ keepAlive: false, ca }) });
    expect((JSON.parse(r.body.toString()) as { detail: string }).detail).toBe('RCAR handshake Attest failed: NonceMismatch: the attestation was not accepted');
    const events = kc.makeApiClient(EventsV1Api);
    const ev = await waitFor('KbsAttestationRefused Event on agent-k', async () => {
      const list = await events.listNamespacedEvent({ namespace: ns });
      return list.items.find((e) => e.reason === 'KbsAttestationRefused' && e.regarding?.name === 'agent-k' && e.note?.startsWith('NonceMismatch: runtime-data.nonce'));
    }, { timeoutMs: 30_000 });
    expect(ev.type).toBe('Warning');
    expect(ev.note).toMatch(/^NonceMismatch: runtime-data\.nonce is not the nonce issued for this session \(requester 127\.0\.0\.1\)$/);
  });

  it('after the fuzzing and the refusals, /metrics counts them with bounded labels only (no nonce, cookie or address)', async () => {
    const text = await waitFor('refusal counted', async () => {
      const t = await scrape(operator);
      return series(t, METRIC.attestationFailures).some((x) => x.labels.reason === 'NonceMismatch' && x.labels.tee === 'sample') ? t : undefined;
    });
    // The fuzzer's requests were counted by endpoint and status, whatever path and body it sent.
    const requests = series(text, METRIC.kbsRequests);
    expect(requests.reduce((n, x) => n + x.value, 0)).toBeGreaterThan(20);
    expect(new Set(requests.map((x) => x.labels.endpoint)).size).toBeLessThanOrEqual(4);
    expect(requests.every((x) => /^\d{3}$/.test(x.labels.code ?? ''))).toBe(true);
    const forbidden = [kbsUrl, '127.0.0.1', Buffer.alloc(32, 1).toString('base64'), ...captured.lines.flatMap((l) => /kbs-session-id=([^;"]+)/.exec(l)?.[1] ?? [])];
    expect(labelProblems(text, forbidden)).toEqual([]);
  });
});
