// ConfidentialAgent.spec.sandboxPolicy end to end against a real kube-apiserver + etcd, the operator, its
// KBS and the local cloud: policy ConfigMap → digest in the instance's init-data at creation → evidence
// bound to that init-data (challenge push and KBS attestation) → AttestationPolicy requiredDigests
// checked → the document delivered in the attested bootstrap push → the guest's PEP enforces exactly
// it. Changing the ConfigMap afterwards is refused (init-data is fixed at launch); a pin the ConfigMap
// does not match is refused before any instance exists.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, EventsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { runCli } from '../../src/cli/main.ts';
import { initDataForPolicy } from '../../src/pep/attestation.ts';
import { policyDigest } from '../../src/pep/policy.ts';
import { BOOTSTRAP_RESOURCE } from '../../src/protocol/bootstrap.ts';
import { KbsClient, KbsClientError } from '../../src/sim/guest/kbs-client.ts';
import type { GuestPep } from '../../src/sim/guest/guest.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { localGuests, type LocalGuests } from '../../src/sim/local/guest-launcher.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { conditionOf, createCustom, customObjects, getAgent, localAgent, startTestOperator } from '../support/operator.ts';
import { defaultPolicyText, makeWorkspace } from '../support/pep.ts';

const controlPlane = useControlPlane();
const OPERATOR_NS = 'cai-system';
const TEXT = defaultPolicyText();
// The shipped default with one visible difference, so "exactly this policy" is observable: `ls` denied.
const NO_LS = (() => {
  const p = JSON.parse(TEXT) as { programs: { deny: string[] } };
  p.programs.deny.push('ls');
  return JSON.stringify(p, null, 2);
})();
const ref = (name: string) => ({ configMapRef: { name, key: 'policy.json' } });
const policy = (name: string, spec: Record<string, unknown>) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name }, spec: { allowSampleTee: true, minimumStatus: 'warning', ...spec } });

async function check(pep: GuestPep, command: string): Promise<string> {
  const raw = await pep.service.handle(
    Buffer.from(JSON.stringify({ id: 'q', method: 'check_intent', params: { version: 1, run_id: 'r', session_key: 's', agent_id: 'a', tool_name: 'exec', skill_id: 'exec', params: { command, workdir: '/workspace' }, issued_at_ms: 0 } })),
  );
  const r = JSON.parse(raw ?? '{}') as { result?: { decision: string }; error?: { rule_id?: string } };
  return r.result?.decision ?? `deny:${r.error?.rule_id ?? '?'}`;
}

async function sealWithCli(kc: KubeConfig, args: string[]): Promise<Record<string, unknown>> {
  const cm = await waitFor('sealing certificate', async () => (await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: OPERATOR_NS }).catch(() => undefined))?.data?.['cert.pem']);
  const dir = mkdtempSync(join(tmpdir(), 'cai-seal-'));
  writeFileSync(join(dir, 'cert.pem'), cm);
  let out = '';
  let err = '';
  const code = await runCli(['seal', '--cert', join(dir, 'cert.pem'), ...args], { stdout: (t) => (out += t), stderr: (t) => (err += t), readStdin: async () => Buffer.alloc(0), env: {} });
  expect(code, err).toBe(0);
  return parse(out) as Record<string, unknown>;
}

describe('sandbox policy: ConfigMap → init-data → attested → enforced by the guest PEP', () => {
  let cloud: LocalCloud;
  let guests: LocalGuests;
  let operator: OperatorHandle | undefined;
  let ns: string;
  const workspace = makeWorkspace();

  beforeAll(async () => {
    guests = localGuests('127.0.0.1', { pepWorkspace: workspace.dir });
    cloud = await startLocalCloud({ launchGuest: guests.launch, pendingMs: 5 });
    const kc = controlPlane().kubeConfig();
    operator = await startTestOperator(kc, ['--local-cloud-url', cloud.url, '--operator-namespace', OPERATOR_NS, '--gc-interval', '3600']);
    ns = await createNamespace(kc, 'pep');
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'no-ls' }, data: { 'policy.json': NO_LS } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'default' }, data: { 'policy.json': TEXT } } });
    await createCustom(kc, 'attestationpolicies', ns, policy('require-no-ls', { sandboxPolicy: { requiredDigests: [policyDigest(NO_LS)] } }));
  });
  afterAll(async () => {
    await operator?.stop();
    await cloud?.close();
    workspace.cleanup();
  });

  const ready = (kc: KubeConfig, name: string) =>
    waitFor(`${name} Ready=True`, async () => {
      const a = await getAgent(kc, ns, name);
      return conditionOf(a, 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 60_000 });

  it.each([
    ['Challenge', 'push-a'],
    ['KBS', 'pull-a'],
  ])('%s mode: init-data at creation, required digest attested, the guest PEP enforces exactly the ConfigMap document', async (mode, name) => {
    const kc = controlPlane().kubeConfig();
    const digest = policyDigest(NO_LS);
    const path = `default/local-resources/${name.replace('-', '_')}`;
    const sealed = await sealWithCli(kc, ['--from-literal', `sandbox-secret-${name}`, '--name', `cred-${name}`, '--namespace', ns, '--resource-path', path, '--agent', name]);
    await createCustom(kc, 'sealedcredentials', ns, sealed);
    await createCustom(kc, 'confidentialagents', ns, localAgent(name, 'require-no-ls', { sandboxPolicy: ref('no-ls'), credentials: [{ name: `cred-${name}` }], delivery: { mode } }));
    const agent = await ready(kc, name);
    expect(agent.status?.sandboxPolicy).toEqual({ configMap: 'no-ls', key: 'policy.json', digest });
    expect(agent.status?.instance?.sandboxPolicyDigest).toBe(digest);
    expect(conditionOf(agent, 'SandboxPolicyReady')).toMatchObject({ status: 'True', reason: 'SandboxPolicyResolved' });
    // The guest's PEP loads a document only if its digest is the one in the init-data it launched with.
    const instanceId = agent.status?.instance?.id ?? '';
    const guest = guests.guest(instanceId)!;
    const pep = guest.pep();
    expect(pep?.digest).toBe(digest);
    expect(guest.resources().get(path)?.toString()).toBe(`sandbox-secret-${name}`);
    if (mode === 'KBS') expect(guest.events.history.some((e) => e.type === 'fetched' && e.resourcePath === path)).toBe(true);
    expect(await check(pep!, 'ls /workspace')).toBe('deny:program.denied');
    expect(await check(pep!, 'wc -l /workspace/notes.txt')).toBe('allow');
    expect(await check(pep!, 'curl https://example.com')).toBe('deny:network.tool');
    expect(pep!.audit.some((l) => l.includes('"intent_deny"') && l.includes(digest))).toBe(true);
  });

  it('a required digest the guest does not run is refused (challenge mode) with a reason naming both digests', async () => {
    const kc = controlPlane().kubeConfig();
    await createCustom(kc, 'confidentialagents', ns, localAgent('wrong', 'require-no-ls', { sandboxPolicy: ref('default') }));
    const attested = await waitFor('Attested=False', async () => {
      const c = conditionOf(await getAgent(kc, ns, 'wrong'), 'Attested');
      return c?.status === 'False' && c.reason === 'SandboxPolicyMismatch' ? c : undefined;
    }, { timeoutMs: 60_000 });
    expect(attested.message).toBe(`the guest runs sandbox policy digest ${policyDigest(TEXT)}; the AttestationPolicy requires sandbox policy digest ${policyDigest(NO_LS)}`);
    const agent = await getAgent(kc, ns, 'wrong');
    expect(guests.guest(agent?.status?.instance?.id ?? '')?.pep()).toBeUndefined();
  });

  it('changing the ConfigMap after launch is refused (SandboxPolicyChanged); restoring it recovers', async () => {
    const kc = controlPlane().kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'mutable' }, data: { 'policy.json': TEXT } } });
    await createCustom(kc, 'attestationpolicies', ns, policy('any', {}));
    await createCustom(kc, 'confidentialagents', ns, localAgent('mut', 'any', { sandboxPolicy: ref('mutable') }));
    const before = await ready(kc, 'mut');
    const id = before.status?.instance?.id ?? '';
    await core.replaceNamespacedConfigMap({ name: 'mutable', namespace: ns, body: { metadata: { name: 'mutable' }, data: { 'policy.json': NO_LS } } });
    // The phase re-reads the ConfigMap every 60 s; a spec change that touches nothing else reconciles now.
    const bump = (model: string) =>
      customObjects(kc).patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace: ns, plural: 'confidentialagents', name: 'mut', body: [{ op: 'add', path: '/spec/workload/model', value: model }] },
      );
    await bump('bump-1');
    const refused = await waitFor('SandboxPolicyChanged', async () => {
      const a = await getAgent(kc, ns, 'mut');
      return conditionOf(a, 'SandboxPolicyReady')?.reason === 'SandboxPolicyChanged' ? a : undefined;
    });
    expect(conditionOf(refused, 'SandboxPolicyReady')?.message).toContain(`now holds sandbox policy ${policyDigest(NO_LS)}, but instance ${id} launched with ${policyDigest(TEXT)} in its attested init-data`);
    expect(conditionOf(refused, 'Ready')).toMatchObject({ status: 'False', reason: 'SandboxPolicyChanged' });
    expect(refused.status?.instance?.sandboxPolicyDigest).toBe(policyDigest(TEXT));
    expect(guests.guest(id)?.pep()?.digest).toBe(policyDigest(TEXT));
    const events = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
    expect(events.items.some((e) => e.reason === 'SandboxPolicyChanged' && e.regarding?.name === 'mut')).toBe(true);

    await core.replaceNamespacedConfigMap({ name: 'mutable', namespace: ns, body: { metadata: { name: 'mutable' }, data: { 'policy.json': TEXT } } });
    await bump('bump-2');
    const back = await ready(kc, 'mut');
    expect(back.status?.instance?.id).toBe(id);
  });

  it('KBS mode: once the ConfigMap no longer matches the launched policy, the KBS releases nothing more to the instance', async () => {
    const kc = controlPlane().kubeConfig();
    const agent = await getAgent(kc, ns, 'pull-a');
    const guest = guests.guest(agent?.status?.instance?.id ?? '')!;
    const { kbs_url: kbsUrl, kbs_cert: ca } = JSON.parse(guest.resources().get(BOOTSTRAP_RESOURCE)!.toString()) as { kbs_url: string; kbs_cert?: string };
    const path = 'default/local-resources/pull_a';
    // The instance's own identity (address + launched init-data) gets its credential from the KBS...
    const client = () => new KbsClient({ baseUrl: kbsUrl, ...(ca ? { ca } : {}), handshakeAttempts: 1, getAttempts: 2, initData: initDataForPolicy(policyDigest(NO_LS)) });
    expect((await client().getResource(path)).toString()).toBe('sandbox-secret-pull-a');
    // ...until the policy it launched with is no longer what the agent names.
    await kc.makeApiClient(CoreV1Api).replaceNamespacedConfigMap({ name: 'no-ls', namespace: ns, body: { metadata: { name: 'no-ls' }, data: { 'policy.json': TEXT } } });
    await customObjects(kc).patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'confidentialagents', name: 'pull-a', body: [{ op: 'add', path: '/spec/workload/model', value: 'bump' }] });
    await waitFor('pull-a SandboxPolicyChanged', async () => (conditionOf(await getAgent(kc, ns, 'pull-a'), 'SandboxPolicyReady')?.reason === 'SandboxPolicyChanged' ? true : undefined));
    const refused = await waitFor('KBS refusal', async () => {
      const err = await client().getResource(path).then(() => undefined, (e: unknown) => e);
      return err instanceof KbsClientError ? err : undefined;
    });
    expect(refused.status).not.toBe(200);
  });

  it('a pin the ConfigMap does not match is refused before any instance exists', async () => {
    const kc = controlPlane().kubeConfig();
    const other = policyDigest('{}');
    await createCustom(kc, 'attestationpolicies', ns, policy('pin', {}));
    await createCustom(kc, 'confidentialagents', ns, localAgent('pinned', 'pin', { sandboxPolicy: { ...ref('default'), digest: other } }));
    const c = await waitFor('SandboxPolicyInvalid', async () => {
      const cond = conditionOf(await getAgent(kc, ns, 'pinned'), 'SandboxPolicyReady');
      return cond?.reason === 'SandboxPolicyInvalid' ? cond : undefined;
    });
    expect(c.message).toBe(`ConfigMap ${ns}/default key policy.json: its digest ${policyDigest(TEXT)} is not the pinned spec.sandboxPolicy.digest ${other}`);
    const agent = await getAgent(kc, ns, 'pinned');
    expect(agent?.status?.instance).toBeUndefined();
    expect(conditionOf(agent, 'Provisioned')).toMatchObject({ status: 'False', reason: 'WaitingForSandboxPolicy' });
    expect(cloud.instances().some((i) => i.owner.name === 'pinned')).toBe(false);
  });
});
