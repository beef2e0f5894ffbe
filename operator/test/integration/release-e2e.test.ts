// Attestation-gated release end to end, against the real kube-apiserver: a value sealed with `cai seal`
// reaches a local (sample TEE) guest, which decrypts exactly the original, in both delivery modes; the
// operator-level refusals each leave a specific reason and nothing released; and no secret value shows
// up in any log line, Event, status or metric.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, EventsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { runCli } from '../../src/cli/main.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { localGuests, type LocalGuests } from '../../src/sim/local/guest-launcher.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { tamperingLauncher, type Tampering } from '../support/tampering-guest.ts';
import { capturingLogger, conditionOf, createCustom, customObjects, getAgent, localAgent, startTestOperator } from '../support/operator.ts';

const controlPlane = useControlPlane();
const OPERATOR_NS = 'cai-system';
const PATH_A = 'default/local-resources/openclaw_vllm_config';
const SECRETS = {
  challenge: 'dingtalk-client-secret-7f3a9c1e-challenge',
  kbs: 'gateway-token-5b2d8e4f-kbs',
  scoped: 'api-key-out-of-scope-91c0',
  tampered: 'disk-passphrase-tampered-44e1',
};

async function sealWithCli(kc: KubeConfig, args: string[]): Promise<Record<string, unknown>> {
  const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: OPERATOR_NS });
  const dir = mkdtempSync(join(tmpdir(), 'cai-seal-'));
  writeFileSync(join(dir, 'cert.pem'), cm.data?.['cert.pem'] ?? '');
  let out = '';
  let err = '';
  const code = await runCli(['seal', '--cert', join(dir, 'cert.pem'), ...args], {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    readStdin: async () => Buffer.alloc(0),
    env: {},
  });
  expect(code, err).toBe(0);
  return parse(out) as Record<string, unknown>;
}

const policy = (name: string, spec: Record<string, unknown>) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name }, spec });

describe('attestation-gated release (local provider, sample TEE)', () => {
  let cloud: LocalCloud;
  let guests: LocalGuests;
  let operator: OperatorHandle;
  const captured = capturingLogger();
  let ns: string;

  beforeAll(async () => {
    guests = localGuests();
    const hostile: Record<string, Tampering> = { 'evil-nonce': 'wrong-nonce', 'evil-key': 'other-tee-key', 'evil-replay': 'replay' };
    cloud = await startLocalCloud({ launchGuest: tamperingLauncher(guests.launch, (agent) => hostile[agent]), pendingMs: 5 });
    const kc = controlPlane().kubeConfig();
    operator = await startTestOperator(kc, ['--local-cloud-url', cloud.url, '--operator-namespace', OPERATOR_NS, '--gc-interval', '3600'], captured.logger);
    ns = await createNamespace(kc, 'release');
    await createCustom(kc, 'attestationpolicies', ns, policy('dev', { allowSampleTee: true, minimumStatus: 'warning' }));
  });
  afterAll(async () => {
    await operator?.stop();
    await cloud?.close();
  });

  async function readyAgent(kc: KubeConfig, name: string) {
    return waitFor(`${name} Ready=True`, async () => {
      const a = await getAgent(kc, ns, name);
      return conditionOf(a, 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 60_000 });
  }

  it('challenge mode: the guest decrypts exactly the sealed value; status records digest and time only', async () => {
    const kc = controlPlane().kubeConfig();
    const sealed = await sealWithCli(kc, ['--from-literal', SECRETS.challenge, '--name', 'cred-a', '--namespace', ns, '--resource-path', PATH_A, '--agent', 'agent-a']);
    await createCustom(kc, 'sealedcredentials', ns, sealed);
    await createCustom(kc, 'confidentialagents', ns, localAgent('agent-a', 'dev', { credentials: [{ name: 'cred-a' }] }));
    const agent = await readyAgent(kc, 'agent-a');
    expect(conditionOf(agent, 'Attested')).toMatchObject({ status: 'True', reason: 'AcceptedByPolicy' });
    expect(agent.status?.attestation).toMatchObject({ teeType: 'sample', status: 'warning', instanceId: agent.status?.instance?.id });
    expect(agent.status?.attestation?.tokenDigest).toMatch(/^[0-9a-f]{64}$/);
    const delivery = agent.status?.credentials?.[0];
    expect(delivery).toMatchObject({ name: 'cred-a', resourcePath: PATH_A, mode: 'Challenge' });
    const guest = guests.guest(agent.status?.instance?.id ?? '');
    expect(guest?.resources().get(PATH_A)?.toString('utf8')).toBe(SECRETS.challenge);
  });

  it('KBS mode: the guest pulls its credential from the operator KBS after an attested bootstrap push', async () => {
    const kc = controlPlane().kubeConfig();
    const path = 'default/local-resources/gateway_token';
    const sealed = await sealWithCli(kc, ['--from-literal', SECRETS.kbs, '--name', 'cred-k', '--namespace', ns, '--resource-path', path, '--agent', 'agent-k']);
    await createCustom(kc, 'sealedcredentials', ns, sealed);
    await createCustom(kc, 'confidentialagents', ns, localAgent('agent-k', 'dev', { credentials: [{ name: 'cred-k' }], delivery: { mode: 'KBS' } }));
    const agent = await readyAgent(kc, 'agent-k');
    expect(agent.status?.credentials?.[0]).toMatchObject({ name: 'cred-k', resourcePath: path, mode: 'KBS' });
    const guest = guests.guest(agent.status?.instance?.id ?? '');
    expect(guest?.resources().get(path)?.toString('utf8')).toBe(SECRETS.kbs);
    expect(guest?.events.history.some((e) => e.type === 'fetched' && e.resourcePath === path)).toBe(true);
  });

  it('refuses: a policy that forbids the sample TEE → Attested=False SampleTeeNotAllowed, nothing released', async () => {
    const kc = controlPlane().kubeConfig();
    await createCustom(kc, 'attestationpolicies', ns, policy('hw-only', { tdx: {} }));
    await createCustom(kc, 'confidentialagents', ns, localAgent('agent-hw', 'hw-only', { credentials: [{ name: 'cred-a' }] }));
    const agent = await waitFor('Attested=False', async () => {
      const a = await getAgent(kc, ns, 'agent-hw');
      return conditionOf(a, 'Attested')?.status === 'False' && conditionOf(a, 'Provisioned')?.status === 'True' && conditionOf(a, 'Attested')?.reason !== 'PolicyNotReady' ? a : undefined;
    }, { timeoutMs: 60_000 });
    expect(conditionOf(agent, 'Attested')?.reason).toBe('SampleTeeNotAllowed');
    expect(conditionOf(agent, 'CredentialsReleased')).toMatchObject({ status: 'False', reason: 'NotAttested' });
    expect(conditionOf(agent, 'Ready')?.status).toBe('False');
    expect(guests.guest(agent.status?.instance?.id ?? '')?.resources().size).toBe(0);
  });

  it('refuses: out-of-scope, tampered and moved SealedCredentials, each with its reason', async () => {
    const kc = controlPlane().kubeConfig();
    const other = await sealWithCli(kc, ['--from-literal', SECRETS.scoped, '--name', 'cred-other', '--namespace', ns, '--resource-path', 'default/local-resources/other', '--agent', 'someone-else']);
    await createCustom(kc, 'sealedcredentials', ns, other);
    const tampered = await sealWithCli(kc, ['--from-literal', SECRETS.tampered, '--name', 'cred-t', '--namespace', ns, '--resource-path', 'default/local-resources/t', '--agent', 'agent-t']);
    const spec = tampered.spec as { encryptedData: string };
    const bytes = Buffer.from(spec.encryptedData, 'base64');
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0x01;
    spec.encryptedData = bytes.toString('base64');
    await createCustom(kc, 'sealedcredentials', ns, tampered);
    // The same ciphertext under another name: strict scope binds the name.
    const moved = { ...other, metadata: { ...(other.metadata as object), name: 'cred-moved' } };
    await createCustom(kc, 'sealedcredentials', ns, moved);

    const credReady = (name: string) =>
      waitFor(`${name} Ready condition`, async () => {
        const c = (await customObjects(kc).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'sealedcredentials', name })) as { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } };
        return conditionOf(c, 'Ready');
      });
    expect(await credReady('cred-t')).toMatchObject({ status: 'False', reason: 'Tampered' });
    expect(await credReady('cred-moved')).toMatchObject({ status: 'False', reason: 'ScopeMismatch' });
    expect(await credReady('cred-other')).toMatchObject({ status: 'True' });

    await createCustom(kc, 'confidentialagents', ns, localAgent('agent-t', 'dev', { credentials: [{ name: 'cred-other' }, { name: 'cred-t' }] }));
    const agent = await waitFor('CredentialsReleased=False after attestation', async () => {
      const a = await getAgent(kc, ns, 'agent-t');
      return conditionOf(a, 'Attested')?.status === 'True' && conditionOf(a, 'CredentialsReleased')?.status === 'False' ? a : undefined;
    }, { timeoutMs: 60_000 });
    const released = conditionOf(agent, 'CredentialsReleased');
    expect(released?.reason).toBe('NotInScope');
    expect(released?.message).toContain('cred-other is not sealed for agent agent-t');
    expect(released?.message).toContain('SealedCredential cred-t:');
    const guest = guests.guest(agent.status?.instance?.id ?? '');
    expect([...(guest?.resources().keys() ?? [])]).toEqual(['default/local-resources/cai_bootstrap_config']);
  });

  it('refuses hostile guests with the check that failed, in status and Events: wrong nonce, another TEE key, replayed evidence', async () => {
    const kc = controlPlane().kubeConfig();
    const cases: Array<[string, string]> = [
      ['evil-nonce', 'NonceMismatch'],
      ['evil-key', 'ReportDataMismatch'],
      ['evil-replay', 'ReportDataMismatch'],
    ];
    for (const [name] of cases) {
      const sealed = await sealWithCli(kc, ['--from-literal', SECRETS.scoped, '--name', `cred-${name}`, '--namespace', ns, '--resource-path', `default/local-resources/${name}`, '--agent', name]);
      await createCustom(kc, 'sealedcredentials', ns, sealed);
      await createCustom(kc, 'confidentialagents', ns, localAgent(name, 'dev', { credentials: [{ name: `cred-${name}` }] }));
    }
    for (const [name, reason] of cases.slice(0, 2)) {
      const agent = await waitFor(`${name} refused`, async () => {
        const a = await getAgent(kc, ns, name);
        const attested = conditionOf(a, 'Attested');
        return attested?.status === 'False' && attested.reason !== 'WaitingForInstance' && attested.reason !== 'Reconciling' ? a : undefined;
      }, { timeoutMs: 60_000 });
      expect(conditionOf(agent, 'Attested')?.reason, name).toBe(reason);
      expect(conditionOf(agent, 'CredentialsReleased')?.reason).toBe('NotAttested');
      expect(guests.guest(agent.status?.instance?.id ?? '')?.resources().size, `${name} received something`).toBe(0);
      const events = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns, fieldSelector: `regarding.name=${name}` });
      expect(events.items.some((e) => e.reason === 'AttestationFailed' && e.note?.startsWith(reason)), `${name} Warning event`).toBe(true);
    }
    // Replay: the guest's first attestation is genuine; its next prepare replays that evidence and key
    // under the fresh nonce, so the credential push is refused (the evidence binds the old nonce).
    const replayed = await waitFor('evil-replay credential refused', async () => {
      const a = await getAgent(kc, ns, 'evil-replay');
      return conditionOf(a, 'CredentialsReleased')?.reason === 'ReportDataMismatch' ? a : undefined;
    }, { timeoutMs: 60_000 });
    expect(conditionOf(replayed, 'Ready')?.status).toBe('False');
    expect([...(guests.guest(replayed.status?.instance?.id ?? '')?.resources().keys() ?? [])]).toEqual(['default/local-resources/cai_bootstrap_config']);
    const events = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns, fieldSelector: 'regarding.name=evil-replay' });
    expect(events.items.some((e) => e.type === 'Warning' && e.reason === 'ReportDataMismatch')).toBe(true);
  });

  it('no secret value appears in any log line, Event, status field or metric', async () => {
    const kc = controlPlane().kubeConfig();
    const events = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
    const statuses = await Promise.all(
      ['confidentialagents', 'sealedcredentials', 'attestationpolicies'].map((plural) => customObjects(kc).listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural })),
    );
    const http = await operator.manager.httpAddress;
    const metrics = await (await fetch(`http://${http.host}:${http.port}/metrics`)).text();
    const haystacks = {
      logs: captured.lines.join('\n'),
      events: JSON.stringify(events.items),
      status: JSON.stringify(statuses.map((l) => (l as { items: Array<{ status?: unknown }> }).items.map((i) => i.status))),
      metrics,
    };
    expect(captured.lines.length).toBeGreaterThan(10);
    expect(events.items.length).toBeGreaterThan(3);
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of Object.values(SECRETS)) {
        expect(text.includes(secret), `${where} contains a secret value`).toBe(false);
        expect(text.includes(Buffer.from(secret).toString('base64')), `${where} contains a base64 secret value`).toBe(false);
      }
    }
  });
});
