// The operator's attestation service against a real kube-apiserver: its CA + signing key in a Secret
// (created once even when replicas race, kept across restarts, rotated on annotation with the overlap
// schedule), the server in its worker thread following policy changes, and refusals for an agent-scoped
// policy id turned into Events on that agent.
import { CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AttestationPolicy } from '../../src/api/attestation-policy.ts';
import type { ConfidentialAgent } from '../../src/api/confidential-agent.ts';
import { AS_CA_SECRET, loadOrCreateAsCa, maintainAsCa, ROTATE_ANNOTATION } from '../../src/app/as-ca-store.ts';
import { startAsService } from '../../src/app/as-service.ts';
import { anchorsPem } from '../../src/attestation/service/ca.ts';
import { agentInitDataDigest } from '../../src/protocol/agent-init-data.ts';
import { httpCall } from '../../src/sim/guest/http.ts';
import { agent, NS, readyPolicy } from '../support/agent-fixtures.ts';
import { tngShapedRequest } from '../support/as-harness.ts';
import { MemoryInformer } from '../support/memory-informer.ts';
import { recordingEvents } from '../support/recording-clients.ts';
import { createNamespace, useControlPlane } from '../envtest/index.ts';

const controlPlane = useControlPlane();
const H = 3_600_000;
const count = (pem: string) => pem.split('-----BEGIN CERTIFICATE-----').length - 1;
const statusOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { submods: { cpu0: { 'ear.status': string } } }).submods.cpu0['ear.status'];

describe('attestation service CA Secret', () => {
  it('is created once under a race, reloaded, and rotated on annotation: published first, active after the overlap, old CA dropped after another', async () => {
    const core = controlPlane().kubeConfig().makeApiClient(CoreV1Api);
    const ns = await createNamespace(controlPlane().kubeConfig(), 'as-ca');
    const t0 = Date.now();
    const [a, b] = await Promise.all([loadOrCreateAsCa(core, ns, () => t0), loadOrCreateAsCa(core, ns, () => t0)]);
    expect(a.active.caCertPem).toBe(b.active.caCertPem);
    expect(await maintainAsCa(core, ns, () => t0)).toEqual(a);
    const secret = await core.readNamespacedSecret({ name: AS_CA_SECRET, namespace: ns });
    expect(Object.keys(secret.data ?? {})).toEqual(['state.json']);

    await core.patchNamespacedSecret({ name: AS_CA_SECRET, namespace: ns, body: [{ op: 'add', path: '/metadata/annotations', value: { [ROTATE_ANNOTATION]: 'now' } }] });
    const policy = { validDays: 365, renewBeforeSeconds: 86400, overlapSeconds: 3600 };
    const rotating = await maintainAsCa(core, ns, () => t0, policy);
    expect(rotating.next).toBeDefined();
    expect(rotating.active.caCertPem).toBe(a.active.caCertPem);
    expect(count(anchorsPem(rotating, t0))).toBe(2);
    const annotations = (await core.readNamespacedSecret({ name: AS_CA_SECRET, namespace: ns })).metadata?.annotations ?? {};
    expect(annotations[ROTATE_ANNOTATION]).toBeUndefined();
    expect(await maintainAsCa(core, ns, () => t0 + H / 2, policy)).toEqual(rotating); // nothing due yet

    const active = await maintainAsCa(core, ns, () => t0 + H, policy);
    expect(active.active.caCertPem).toBe(rotating.next!.keyset.caCertPem);
    expect(active.retired?.caCertPem).toBe(a.active.caCertPem);
    const done = await maintainAsCa(core, ns, () => t0 + 2 * H, policy);
    expect(done.retired).toBeUndefined();
    expect(count(anchorsPem(done, t0 + 2 * H))).toBe(1);
    expect((await loadOrCreateAsCa(core, ns, () => t0)).active.caCertPem).toBe(done.active.caCertPem);
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
    const start = () =>
      startAsService({ agents, policies, core, operatorNamespace: ns, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), events: events.recorder, snapshotDebounceMs: 10 });
    let as = await start();
    try {
      const ca = as.trustBundlePem();
      const post = async (policyId: string, initDataDigest?: Uint8Array) => {
        const r = await httpCall('POST', `${as.url}/attestation`, { ca, rawBody: tngShapedRequest({ policyId, ...(initDataDigest ? { initDataDigest } : {}) }).body });
        return r.status === 200 ? statusOf(r.body.toString()) : `${r.status} ${r.body.toString()}`;
      };
      expect(await post(`${NS}/dev`)).toBe('affirming');
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

      await as.close();
      as = await start();
      expect(as.trustBundlePem()).toBe(ca);
      expect((await httpCall('GET', `${as.url}/certificate`, { ca })).body.toString()).toBe(ca);
    } finally {
      await as.close();
    }
  });
});
