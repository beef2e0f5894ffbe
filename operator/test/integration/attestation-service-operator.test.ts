// The operator's attestation service against a real kube-apiserver: its CA + signing key in a Secret
// (created once even when replicas race, kept across restarts, rotated on annotation with the overlap
// schedule), the server in its worker thread following policy changes, and refusals for an agent-scoped
// policy id turned into Events on that agent.
import { connect } from 'node:tls';
import { CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import * as prom from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { AttestationPolicy } from '../../src/api/attestation-policy.ts';
import type { ConfidentialAgent } from '../../src/api/confidential-agent.ts';
import { AS_CA_SECRET, loadOrCreateAsCa, readAsCa } from '../../src/app/as-ca-store.ts';
import { startAsService } from '../../src/app/as-service.ts';
import { advance, anchorsPem } from '../../src/attestation/service/ca.ts';
import { runCli } from '../../src/cli/main.ts';
import { DomainMetrics } from '../../src/metrics/domain.ts';
import { agentInitDataDigest } from '../../src/protocol/agent-init-data.ts';
import { httpCall } from '../../src/sim/guest/http.ts';
import { agent, NS, readyPolicy } from '../support/agent-fixtures.ts';
import { tngShapedRequest } from '../support/as-harness.ts';
import { MemoryInformer } from '../support/memory-informer.ts';
import { recordingEvents } from '../support/recording-clients.ts';
import { createNamespace, useControlPlane } from '../envtest/index.ts';

const controlPlane = useControlPlane();

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), readStdin: async () => Buffer.alloc(0), env: { KUBECONFIG: controlPlane().kubeconfigPath } });
  return { code, out, err };
}
const H = 3_600_000;
const count = (pem: string) => pem.split('-----BEGIN CERTIFICATE-----').length - 1;
const statusOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { submods: { cpu0: { 'ear.status': string } } }).submods.cpu0['ear.status'];

describe('attestation service CA Secret', () => {
  it('is created once under a race and reloaded; `cai attestation-service rotate-ca` publishes a new CA first, it signs after the overlap, the old one is dropped after another', async () => {
    const core = controlPlane().kubeConfig().makeApiClient(CoreV1Api);
    const ns = await createNamespace(controlPlane().kubeConfig(), 'as-ca');
    const t0 = Date.now();
    const [a, b] = await Promise.all([loadOrCreateAsCa(core, ns, () => t0), loadOrCreateAsCa(core, ns, () => t0)]);
    expect(a.active.caCertPem).toBe(b.active.caCertPem);
    expect(await readAsCa(core, ns)).toEqual(a);
    const secret = await core.readNamespacedSecret({ name: AS_CA_SECRET, namespace: ns });
    expect(Object.keys(secret.data ?? {})).toEqual(['state.json']);

    const printed = await cli(['attestation-service', 'ca', '--namespace', ns]);
    expect([printed.code, printed.out]).toEqual([0, a.active.caCertPem]);
    const rotated = await cli(['attestation-service', 'rotate-ca', '--namespace', ns, '--overlap', '3600']);
    expect(rotated.code, rotated.err).toBe(0);
    expect(rotated.err).toContain('rotation begun');
    const rotating = (await readAsCa(core, ns))!;
    const tr = Date.parse(rotating.next!.activateAt) - 3600 * 1000;
    expect(rotating.active.caCertPem).toBe(a.active.caCertPem);
    expect(count(anchorsPem(rotating, tr))).toBe(2);
    expect(advance(rotating, tr + H / 2).active.caCertPem).toBe(a.active.caCertPem);
    const active = advance(rotating, tr + H);
    expect(active.active.caCertPem).toBe(rotating.next!.keyset.caCertPem);
    expect(active.retired?.caCertPem).toBe(a.active.caCertPem);
    expect(count(anchorsPem(rotating, tr + 2 * H))).toBe(1);
    const again = await cli(['attestation-service', 'rotate-ca', '--namespace', ns]);
    expect(again.code).not.toBe(0); // one rotation at a time
    expect((await cli(['attestation-service', 'rotate-ca', '--namespace', ns, '--overlap', '-1'])).code).toBe(2);
  });

  it('refuses a corrupted Secret instead of replacing it', async () => {
    const core = controlPlane().kubeConfig().makeApiClient(CoreV1Api);
    const ns = await createNamespace(controlPlane().kubeConfig(), 'as-ca');
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: AS_CA_SECRET }, data: { 'state.json': Buffer.from('{"version":1,"active":{}}').toString('base64') } } });
    await expect(loadOrCreateAsCa(core, ns, Date.now)).rejects.toThrow('active must hold caCertPem');
  });
});

describe('the operator attestation service (worker thread)', () => {
  it('serves HTTPS pinned to its CA, follows policy changes, keeps its CA across a restart, and records agent-scoped refusals as Events', async () => {
    const core = controlPlane().kubeConfig().makeApiClient(CoreV1Api);
    const ns = await createNamespace(controlPlane().kubeConfig(), 'as-svc');
    const policies = new MemoryInformer<AttestationPolicy>();
    const agents = new MemoryInformer<ConfidentialAgent>();
    policies.set(readyPolicy('dev', { allowSampleTee: true, sample: { trustAsAffirming: true } }));
    const a = agents.set(agent('agent-a'));
    const events = recordingEvents();
    const registry = new prom.Registry();
    const metrics = new DomainMetrics(registry);
    const start = () =>
      startAsService({ agents, policies, core, operatorNamespace: ns, host: '127.0.0.1', port: 0, publicUrl: 'https://cao-as.team.svc:8082', logger: pino({ level: 'silent' }), events: events.recorder, metrics, snapshotDebounceMs: 10, caCheckIntervalMs: 200 });
    let as = await start();
    const local = () => `https://127.0.0.1:${as.port}`;
    try {
      const ca = as.trustBundlePem();
      const post = async (policyId: string, initDataDigest?: Uint8Array) => {
        const r = await httpCall('POST', `${local()}/attestation`, { ca, rawBody: tngShapedRequest({ policyId, ...(initDataDigest ? { initDataDigest } : {}) }).body });
        return r.status === 200 ? statusOf(r.body.toString()) : `${r.status} ${r.body.toString()}`;
      };
      expect(await post(`${NS}/dev`)).toBe('affirming');
      // The serving certificate names the Service of the public URL in every form an in-cluster client may use.
      const port = as.port;
      expect(as.url).toBe('https://cao-as.team.svc:8082');
      for (const servername of ['cao-as', 'cao-as.team', 'cao-as.team.svc', 'cao-as.team.svc.cluster.local']) {
        await new Promise<void>((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port, ca, servername }, () => (s.end(), resolve()));
          s.on('error', reject);
        });
      }
      await expect(new Promise((resolve, reject) => connect({ host: '127.0.0.1', port, ca, servername: 'evil.example' }, () => resolve(undefined)).on('error', reject))).rejects.toThrow(/altnames/);
      const digest = agentInitDataDigest({ namespace: NS, name: 'agent-a', uid: a.metadata.uid! });
      expect(await post(`${NS}/dev/agent-a`, digest)).toBe('affirming');
      expect(await post(`${NS}/dev/agent-a`)).toBe('contraindicated');
      expect(events.emitted.some((e) => e.name === 'agent-a' && e.reason === 'AttestationServiceRefused' && e.note.includes('AgentInstanceMismatch'))).toBe(true);

      // The policy changes: sample evidence is no longer trusted as affirming (the snapshot reaches the worker).
      policies.set(readyPolicy('dev', { allowSampleTee: true }, 2));
      await expect.poll(() => post(`${NS}/dev`), { timeout: 5000 }).toBe('warning');
      policies.set(readyPolicy('dev', { tdx: {} }, 3));
      await expect.poll(() => post(`${NS}/dev/agent-a`, digest), { timeout: 5000 }).toMatch(/^403 .*TeeNotAllowed/);
      expect(events.emitted.some((e) => e.name === 'agent-a' && e.note.includes('TeeNotAllowed'))).toBe(true);
      // What the worker decided, counted on the main thread's registry (what Prometheus scrapes).
      const scrape = await registry.metrics();
      const counted = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(scrape)?.[1] ?? NaN);
      expect(counted('confidential_agent_attestation_service_tokens_total{status="affirming"}')).toBeGreaterThanOrEqual(2);
      expect(counted('confidential_agent_attestation_service_tokens_total{status="contraindicated"}')).toBeGreaterThanOrEqual(1);
      expect(counted('confidential_agent_attestation_service_tokens_total{status="warning"}')).toBeGreaterThanOrEqual(1);
      expect(counted('confidential_agent_attestation_service_refusals_total{code="TeeNotAllowed"}')).toBeGreaterThanOrEqual(1);
      expect(counted('confidential_agent_attestation_service_refusals_total{code="Busy"}')).toBe(0);

      await as.close();
      as = await start();
      expect(as.trustBundlePem()).toBe(ca);
      // A rotation begun by an admin reaches the running service (Secret re-read): two anchors, TLS unchanged.
      const changed = new Promise<string>((resolve) => as.onTrustBundleChange(resolve));
      expect((await cli(['attestation-service', 'rotate-ca', '--namespace', ns])).code).toBe(0);
      const bundle = await changed;
      expect(count(bundle)).toBe(2);
      await expect.poll(async () => (await httpCall('GET', `${local()}/certificate`, { ca })).body.toString(), { timeout: 5000 }).toBe(bundle);
    } finally {
      await as.close();
    }
  });
});
