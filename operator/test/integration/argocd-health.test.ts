// Argo CD health for the three kinds: the health.lua scripts of examples/argocd run in gopher-lua (the
// engine Argo CD embeds, via the lua-health harness) over objects captured from the real API server while
// the operator drives them through the states it produces. Healthy only with Ready=True for the current
// generation; Degraded with the condition message on failures such as attestation; Progressing while the
// operator has not observed the generation or a step is under way.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { prepareExampleCredentials } from '../../src/cli/dev-credentials.ts';
import { useControlPlane, waitFor } from '../envtest/index.ts';
import { luaHealth, type Health } from '../support/chart.ts';
import { conditionOf, customObjects, localAgent, REPO_ROOT, samplePolicy, startTestOperator } from '../support/operator.ts';

const controlPlane = useControlPlane();
const NS = 'default';
const OPERATOR_NS = 'cai-health';
const ARGOCD = join(REPO_ROOT, 'examples', 'argocd');
const script = (kind: string) => join(ARGOCD, 'resource_customizations', GROUP, kind, 'health.lua');

type Obj = { metadata: { name: string; generation?: number; uid?: string }; status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } } & Record<string, unknown>;
const PLURAL = { ConfidentialAgent: 'confidentialagents', AttestationPolicy: 'attestationpolicies', SealedCredential: 'sealedcredentials' } as const;
type Kind = keyof typeof PLURAL;

async function create(kc: KubeConfig, kind: Kind, body: Record<string, unknown>): Promise<Obj> {
  return (await customObjects(kc).createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: PLURAL[kind], body: { apiVersion: `${GROUP}/${VERSION}`, kind, ...body } })) as Obj;
}
async function get(kc: KubeConfig, kind: Kind, name: string): Promise<Obj> {
  return (await customObjects(kc).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: PLURAL[kind], name })) as Obj;
}
async function until(kc: KubeConfig, kind: Kind, name: string, ok: (o: Obj) => boolean, what: string): Promise<Obj> {
  return waitFor(`${kind}/${name} ${what}`, async () => {
    const o = await get(kc, kind, name);
    return ok(o) ? o : undefined;
  }, { timeoutMs: 90_000 });
}
const ready = (o: Obj) => conditionOf(o, 'Ready');
const health = (kind: Kind, o: Obj): Health => luaHealth(script(kind), [o])[0]!;

describe('Argo CD health.lua (gopher-lua) over objects captured from the real API server', () => {
  let operator: OperatorHandle;
  const captured: Partial<Record<string, { kind: Kind; obj: Obj }>> = {};

  beforeAll(async () => {
    const kc = controlPlane().kubeConfig();
    operator = await startTestOperator(kc, ['--providers', 'local', '--operator-namespace', OPERATOR_NS, '--gc-interval', '3600']);
    await waitFor('sealing certificate', async () => {
      const { CoreV1Api } = await import('@kubernetes/client-node');
      return (await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: OPERATOR_NS })).data?.['cert.pem'];
    });

    // Policies: fresh (no status yet), Ready, and two failures.
    captured.policyNew = { kind: 'AttestationPolicy', obj: await create(kc, 'AttestationPolicy', samplePolicy('sample')) };
    await create(kc, 'AttestationPolicy', { metadata: { name: 'hw-only' }, spec: { tdx: {} } });
    await create(kc, 'AttestationPolicy', { metadata: { name: 'no-tee' }, spec: { allowSampleTee: false } });
    await create(kc, 'AttestationPolicy', {
      metadata: { name: 'missing-bundle' },
      spec: {
        tdx: {
          referenceValues: {
            bundle: {
              configMapRef: { name: 'absent', key: 'bundle.sigstore.json' },
              publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString(),
              artifactId: 'cai-openclaw-vllm',
              allowedVersions: ['1.0.0'],
            },
          },
        },
      },
    });
    captured.policyReady = { kind: 'AttestationPolicy', obj: await until(kc, 'AttestationPolicy', 'sample', (o) => ready(o)?.status === 'True', 'Ready') };
    captured.policyNoTee = { kind: 'AttestationPolicy', obj: await until(kc, 'AttestationPolicy', 'no-tee', (o) => ready(o)?.status === 'False', 'Ready=False') };
    captured.policyBundle = { kind: 'AttestationPolicy', obj: await until(kc, 'AttestationPolicy', 'missing-bundle', (o) => ready(o)?.status === 'False', 'Ready=False') };
    await until(kc, 'AttestationPolicy', 'hw-only', (o) => ready(o)?.status === 'True', 'Ready');

    // Sealed credentials: sealed with the operator's certificate (cai seal), and a tampered copy.
    const io = { stdout: () => undefined, stderr: () => undefined, readStdin: () => Promise.resolve(Buffer.alloc(0)), env: {} };
    const [sealed] = (await prepareExampleCredentials(join(REPO_ROOT, 'examples', 'local'), kc, OPERATOR_NS, io)) as unknown as Array<Obj & { spec: { encryptedData: string } }>;
    captured.credentialNew = { kind: 'SealedCredential', obj: await create(kc, 'SealedCredential', sealed as unknown as Record<string, unknown>) };
    const enc = sealed!.spec.encryptedData;
    const flipped = enc.slice(0, 40) + (enc[40] === 'A' ? 'B' : 'A') + enc.slice(41);
    await create(kc, 'SealedCredential', { metadata: { name: 'tampered' }, spec: { ...sealed!.spec, encryptedData: flipped } });
    const credName = sealed!.metadata.name;
    captured.credentialReady = { kind: 'SealedCredential', obj: await until(kc, 'SealedCredential', credName, (o) => ready(o)?.status === 'True', 'Ready') };
    captured.credentialTampered = { kind: 'SealedCredential', obj: await until(kc, 'SealedCredential', 'tampered', (o) => ready(o)?.status === 'False', 'Ready=False') };

    // Agents: fresh, booting, Ready, refused by attestation, missing credential.
    // demo-agent: the name the example credential is sealed for (its scope).
    captured.agentNew = { kind: 'ConfidentialAgent', obj: await create(kc, 'ConfidentialAgent', localAgent('demo-agent', 'sample', { credentials: [{ name: credName }] })) };
    await create(kc, 'ConfidentialAgent', localAgent('booting', 'sample', { instance: { local: { bootDelaySeconds: 600 } } }));
    await create(kc, 'ConfidentialAgent', localAgent('refused', 'hw-only'));
    await create(kc, 'ConfidentialAgent', localAgent('no-cred', 'sample', { credentials: [{ name: 'does-not-exist' }] }));
    captured.agentBooting = { kind: 'ConfidentialAgent', obj: await until(kc, 'ConfidentialAgent', 'booting', (o) => conditionOf(o, 'Provisioned')?.reason === 'InstanceStarting', 'InstanceStarting') };
    captured.agentReady = { kind: 'ConfidentialAgent', obj: await until(kc, 'ConfidentialAgent', 'demo-agent', (o) => ready(o)?.status === 'True', 'Ready') };
    captured.agentRefused = { kind: 'ConfidentialAgent', obj: await until(kc, 'ConfidentialAgent', 'refused', (o) => conditionOf(o, 'Attested')?.reason === 'SampleTeeNotAllowed', 'SampleTeeNotAllowed') };
    captured.agentNoCred = { kind: 'ConfidentialAgent', obj: await until(kc, 'ConfidentialAgent', 'no-cred', (o) => ready(o)?.reason === 'CredentialNotFound', 'CredentialNotFound') };
    // A spec change: the API server's answer has the new generation and the old status.
    const patched = (await customObjects(kc).patchNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace: NS, plural: 'confidentialagents', name: 'demo-agent',
      body: [{ op: 'add', path: '/spec/workload', value: { profile: 'openclaw-vllm', model: 'Qwen3.6-35B-A3B', port: 18790 } }],
    })) as Obj;
    captured.agentStale = { kind: 'ConfidentialAgent', obj: patched };
  }, 240_000);
  afterAll(async () => {
    await operator?.stop();
  });

  it('the captured objects are what the operator produced (the scenarios happened)', () => {
    expect(captured.agentStale?.obj.metadata.generation).toBeGreaterThan(captured.agentReady?.obj.metadata.generation ?? Infinity);
    expect(captured.agentNew?.obj.status).toBeUndefined();
  });

  it.each([
    ['agentNew', 'Progressing'],
    ['agentBooting', 'Progressing'],
    ['agentReady', 'Healthy'],
    ['agentStale', 'Progressing'],
    ['agentRefused', 'Degraded'],
    ['agentNoCred', 'Degraded'],
    ['policyNew', 'Progressing'],
    ['policyReady', 'Healthy'],
    ['policyNoTee', 'Degraded'],
    ['policyBundle', 'Degraded'],
    ['credentialNew', 'Progressing'],
    ['credentialReady', 'Healthy'],
    ['credentialTampered', 'Degraded'],
  ])('%s → %s', (name, expected) => {
    const c = captured[name]!;
    const h = health(c.kind, c.obj);
    expect(h.status, JSON.stringify(c.obj.status)).toBe(expected);
    const r = ready(c.obj);
    // Healthy and Degraded carry the Ready condition's reason and message.
    if (expected !== 'Progressing' || (r && c.obj.status && name !== 'agentStale')) expect(h.message).toBe(`${r?.reason}: ${r?.message}`);
    if (name === 'agentStale') expect(h.message).toMatch(/observe generation \d+/);
  });

  it('Degraded on attestation failure names the failed check', () => {
    expect(health('ConfidentialAgent', captured.agentRefused!.obj).message).toMatch(/^SampleTeeNotAllowed: Attested: /);
  });

  it('Healthy only when observedGeneration is current: a Ready object one generation behind is Progressing', () => {
    const ready = captured.agentReady!.obj;
    const behind = { ...ready, metadata: { ...ready.metadata, generation: (ready.metadata.generation ?? 1) + 1 } };
    expect(health('ConfidentialAgent', behind).status).toBe('Progressing');
    const policy = captured.policyReady!.obj;
    expect(health('AttestationPolicy', { ...policy, metadata: { ...policy.metadata, generation: (policy.metadata.generation ?? 1) + 1 } }).status).toBe('Progressing');
  });

  it('the argocd-cm snippet carries the three scripts verbatim', () => {
    const cm = parse(readFileSync(join(ARGOCD, 'argocd-cm.yaml'), 'utf8')) as { data: Record<string, string> };
    for (const kind of Object.keys(PLURAL)) {
      expect(cm.data[`resource.customizations.health.${GROUP}_${kind}`], kind).toBe(readFileSync(script(kind), 'utf8'));
    }
  });
});
