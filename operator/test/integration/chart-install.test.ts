// The chart installed into a real kube-apiserver + etcd (RBAC authorization, ServiceAccount token
// signing, an audit log): every rendered object passes server-side validation and restricted Pod
// Security; `helm install` creates them; the operator, run with a TokenRequest token of the chart's
// ServiceAccount (not the admin credential), brings the example agent to Ready; the audit log proves
// every granted verb was used; `helm upgrade` with a changed CRD schema keeps objects; `helm
// uninstall` leaves the CRDs and users' objects (crds.keep).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { GROUP, VERSION } from '../../src/api/common.ts';
import { prepareExampleCredentials } from '../../src/cli/dev-credentials.ts';
import { apiErrorMessage, useControlPlane, waitFor } from '../envtest/index.ts';
import { CHART_DIR, DEV_VALUES, helm, ofKind, OPTION_SETS, parseManifests, render } from '../support/chart.ts';
import { CLI, conditionOf, customObjects, getAgent, REPO_ROOT } from '../support/operator.ts';

const NS = 'confidential-agent-system';
const RELEASE = 'cao';
const SA = 'cao-confidential-agent-operator';
const SA_USER = `system:serviceaccount:${NS}:${SA}`;
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    users: ["${SA_USER}"]
  - level: None
`;

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface Role extends KubernetesObject {
  rules: Rule[];
}
interface Binding extends KubernetesObject {
  roleRef: { kind: string; name: string };
}
interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  annotations?: Record<string, string>;
}
interface PodTemplateOwner extends KubernetesObject {
  spec: { template: { metadata?: { labels?: Record<string, string> }; spec: V1PodSpec } };
}
interface Container {
  command: string[];
  args: string[];
  env?: Array<{ name: string; value?: string }>;
}

const controlPlane = useControlPlane({ crdDir: undefined, auditPolicy: AUDIT_POLICY });

/**
 * kubectl server-side apply, dry run, strict field validation: each object is checked by the API
 * server against its own OpenAPI schemas (Kubernetes 1.35) and admission; unknown fields are errors.
 */
function dryRunApply(manifests: string): { code: number; out: string } {
  const kubectl = controlPlane().assets.kubectl;
  if (!kubectl) throw new Error('kubectl missing from KUBEBUILDER_ASSETS: run `make envtest`');
  const r = spawnSync(kubectl, ['apply', '--server-side', '--dry-run=server', '--validate=strict', '--force-conflicts', '--field-manager=chart-test', '--kubeconfig', controlPlane().kubeconfigPath, '-f', '-'], { input: manifests, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function kubeHelm(args: string[]) {
  return helm([...args, '--kubeconfig', controlPlane().kubeconfigPath]);
}

function kubeconfigWithToken(kc: KubeConfig, token: string, user = SA): string {
  const cluster = kc.getCurrentCluster()!;
  const ca = readFileSync(join(controlPlane().workDir, 'ca.crt'), 'utf8');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: cluster.server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'sa', context: { cluster: 'test', user } }],
    'current-context': 'sa',
  });
}

interface RunningOperator {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Runs the operator as the chart's Deployment would: the rendered command (node + V8 flags; the source
 * entry point instead of dist/, which image.test.ts covers) and args, POD_NAMESPACE as the downward API
 * sets it, and the ServiceAccount's token. Only ports are made loopback/random for the shared test machine.
 */
function runAsDeployment(deployment: PodTemplateOwner, kubeconfigPath: string, namespace = NS): RunningOperator {
  const c = (deployment.spec.template.spec.containers as unknown as Container[])[0]!;
  const command = c.command.map((a, i) => (i === 0 ? process.execPath : a === 'dist/cli/main.js' ? CLI : a));
  const args = c.args.map((a) =>
    a
      .replace(/^--http-host=0\.0\.0\.0$/, '--http-host=127.0.0.1')
      .replace(/^--(http|kbs)-port=\d+$/, '--$1-port=0')
      .replace(/^--as-bind-address=(?:0\.0\.0\.0|127\.0\.0\.1)?:\d+$/, '--as-bind-address=127.0.0.1:0'),
  );
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', POD_NAMESPACE: namespace };
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.name === 'TMPDIR' ? tmpdir() : e.value;
  const proc = spawn(command[0]!, [...command.slice(1), ...args, '--kubeconfig', kubeconfigPath], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    proc,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

describe('Helm chart: install into a real API server under the chart ServiceAccount', () => {
  let kc: KubeConfig;
  let work: string;
  let operator: RunningOperator | undefined;

  beforeAll(async () => {
    kc = controlPlane().kubeConfig();
    work = mkdtempSync(join(tmpdir(), 'chart-install-'));
    const core = kc.makeApiClient(CoreV1Api);
    for (const name of [NS, 'agents']) {
      await core.createNamespace({ body: { metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } } } });
    }
  });
  afterAll(async () => {
    await operator?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('every rendered object (defaults, dev values, every documented option) passes server-side validation', async () => {
    const sets: Array<[string, { values?: string[]; set?: string[] }]> = [
      ['defaults', {}],
      ['dev', { values: [DEV_VALUES] }],
      ...Object.entries(OPTION_SETS).map(([name, set]): [string, { set: string[] }] => [name, { set }]),
    ];
    let applied = 0;
    for (const [name, opts] of sets) {
      const objs = render({ ...opts, namespace: NS, release: RELEASE });
      const r = dryRunApply(objs.map((o) => stringify(o)).join('---\n'));
      expect(r.code, `${name}: ${r.out}`).toBe(0);
      applied += (r.out.match(/serverside-applied \(server dry run\)/g) ?? []).length;
      expect(r.out).not.toMatch(/Warning/);
    }
    expect(applied).toBeGreaterThan(sets.length * 10);
    // The check has teeth: an unknown field is rejected by the same call.
    const deployment = ofKind<PodTemplateOwner>(render({ namespace: NS }), 'Deployment')[0]!;
    const typo = dryRunApply(stringify({ ...deployment, spec: { ...deployment.spec, replicaz: 2 } }));
    expect(typo.code).not.toBe(0);
    expect(typo.out).toMatch(/replicaz/);
  });

  it('every Pod the chart can create is admitted by restricted Pod Security admission', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const sets = [{}, { values: [DEV_VALUES] }, ...Object.values(OPTION_SETS).map((set) => ({ set }))];
    let pods = 0;
    for (const opts of sets) {
      for (const d of ofKind<PodTemplateOwner>(render({ ...opts, namespace: NS }), 'Deployment')) {
        const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${d.metadata?.name}-probe`, namespace: NS, labels: d.spec.template.metadata?.labels }, spec: d.spec.template.spec };
        try {
          await core.createNamespacedPod({ namespace: NS, body: pod, dryRun: 'All' });
          pods++;
        } catch (err) {
          throw new Error(`${d.metadata?.name} (${JSON.stringify(opts)}) violates restricted PSS: ${apiErrorMessage(err)}`, { cause: err });
        }
      }
    }
    expect(pods).toBeGreaterThan(sets.length);
    // Enforcement is on: the same pod without its seccomp profile is refused.
    const d = ofKind<PodTemplateOwner>(render({ namespace: NS }), 'Deployment')[0]!;
    const weakSpec = structuredClone(d.spec.template.spec);
    delete weakSpec.securityContext?.seccompProfile;
    for (const c of weakSpec.containers) delete c.securityContext?.seccompProfile;
    const weak: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'weak', namespace: NS }, spec: weakSpec };
    await expect(core.createNamespacedPod({ namespace: NS, body: weak, dryRun: 'All' })).rejects.toThrow(/seccompProfile/);
  });

  it('helm install (dev values); the operator under a TokenRequest token of the chart ServiceAccount brings the example agent to Ready', async () => {
    const r = kubeHelm(['install', RELEASE, CHART_DIR, '--namespace', NS, '--values', DEV_VALUES]);
    expect(r.code, r.stderr).toBe(0);
    const crds = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
    expect(crds.items.map((c) => c.metadata?.name).filter((n) => n?.endsWith(GROUP)).sort()).toEqual([
      `attestationpolicies.${GROUP}`,
      `confidentialagents.${GROUP}`,
      `sealedcredentials.${GROUP}`,
    ]);
    for (const c of crds.items) {
      await waitFor(`${c.metadata?.name} Established`, async () => {
        const got = await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: c.metadata?.name ?? '' });
        return got.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
      });
    }

    const token = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({ name: SA, namespace: NS, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const saKubeconfig = join(work, 'sa.kubeconfig');
    writeFileSync(saKubeconfig, kubeconfigWithToken(kc, token.status?.token ?? ''), { mode: 0o600 });
    // A quick orphan sweep (the chart's extraArgs), so the GC's owner check runs under the chart's RBAC below.
    const gcValues = join(work, 'gc-values.yaml');
    writeFileSync(gcValues, 'extraArgs: ["--gc-interval=2", "--gc-min-age=0"]\n');
    const deployment = ofKind<PodTemplateOwner>(render({ values: [DEV_VALUES, gcValues], namespace: NS, release: RELEASE }), 'Deployment')[0]!;
    operator = runAsDeployment(deployment, saKubeconfig);

    const core = kc.makeApiClient(CoreV1Api);
    await waitFor('sealing certificate published', async () => (await core.readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: NS })).data?.['cert.pem'], { timeoutMs: 60_000 }).catch((err: unknown) => {
      throw new Error(`${String(err)}\noperator output:\n${operator?.output()}`);
    });
    const io = { stdout: () => undefined, stderr: () => undefined, readStdin: () => Promise.resolve(Buffer.alloc(0)), env: {} };
    const example = join(REPO_ROOT, 'examples', 'local');
    const objects: Array<KubernetesObject & { spec?: unknown }> = [
      ...['attestation-policy.yaml'].map((f) => parse(readFileSync(join(example, f), 'utf8')) as KubernetesObject),
      ...(await prepareExampleCredentials(example, kc, NS, io)),
      parse(readFileSync(join(example, 'confidential-agent.yaml'), 'utf8')) as KubernetesObject,
      // Refused by attestation (sample evidence, hardware-only policy): retried every 30 s, so its Warning
      // Event repeats and is patched (the Event patch RBAC grants).
      { apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name: 'hw-only', namespace: 'default' }, spec: { tdx: {} } },
      { apiVersion: `${GROUP}/${VERSION}`, kind: 'ConfidentialAgent', metadata: { name: 'refused', namespace: 'default' }, spec: { instance: { local: {} }, attestationPolicyRef: { name: 'hw-only' } } },
      // Force-deleted below, leaving its instance to the orphan GC.
      { apiVersion: `${GROUP}/${VERSION}`, kind: 'ConfidentialAgent', metadata: { name: 'abandoned', namespace: 'default' }, spec: { instance: { local: {} }, attestationPolicyRef: { name: 'hw-only' } } },
      // A policy whose reference values come from a ConfigMap bundle (the ConfigMap read RBAC grants).
      {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'AttestationPolicy',
        metadata: { name: 'bundle-policy', namespace: 'default' },
        spec: {
          tdx: {
            referenceValues: {
              bundle: {
                configMapRef: { name: 'reference-values', key: 'bundle.sigstore.json' },
                publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString(),
                artifactId: 'cai-openclaw-vllm',
                allowedVersions: ['1.0.0'],
              },
            },
          },
        },
      },
    ];
    const api = KubernetesObjectApi.makeApiClient(kc);
    for (const o of objects) await api.create(o);
    const agent = await waitFor('demo-agent Ready=True', async () => {
      const a = await getAgent(kc, 'default', 'demo-agent');
      return conditionOf(a, 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: 120_000 }).catch(async (err: unknown) => {
      const a = await getAgent(kc, 'default', 'demo-agent');
      throw new Error(`${String(err)}\nconditions: ${JSON.stringify(a?.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]))}\noperator output:\n${operator?.output().slice(-4000)}`);
    });
    expect(conditionOf(agent, 'CredentialsReleased')).toMatchObject({ status: 'True', reason: 'Delivered' });
    // The endpoint (applied under the chart's RBAC), then opted out: the gateway objects are deleted.
    expect(conditionOf(agent, 'EndpointReady')).toMatchObject({ status: 'True', reason: 'Serving' });
    await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'demo-agent-gateway', namespace: 'default' });
    await customObjects(kc).patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: 'default', plural: 'confidentialagents', name: 'demo-agent', body: { spec: { endpoint: { enabled: false } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitFor('demo-agent endpoint removed', async () => conditionOf(await getAgent(kc, 'default', 'demo-agent'), 'EndpointReady')?.reason === 'EndpointDisabled');
    await waitFor('gateway Service deleted', async () => !(await core.listNamespacedService({ namespace: 'default' })).items.some((s) => s.metadata?.name === 'demo-agent'));
    // An agent removed without its finalizer (as a forced delete does) leaves its instance behind: the GC
    // reads the owner from the API server (the agents get RBAC grants), finds it gone, and deletes it. The
    // operator is paused meanwhile, or it would add its finalizer back before the delete.
    await waitFor('the abandoned agent\'s instance', async () => (await getAgent(kc, 'default', 'abandoned'))?.status?.instance?.id);
    operator.proc.kill('SIGSTOP');
    await customObjects(kc).patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: 'default', plural: 'confidentialagents', name: 'abandoned', body: { metadata: { finalizers: null } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await customObjects(kc).deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'default', plural: 'confidentialagents', name: 'abandoned' });
    operator.proc.kill('SIGCONT');
    await waitFor('the orphaned instance of the force-deleted agent collected', () => /deleting orphaned instance/.test(operator!.output()) || undefined, { timeoutMs: 30_000 }).catch((err: unknown) => {
      throw new Error(`${String(err)}\noperator output:\n${operator?.output().split('\n').filter((l) => /garbage|orphan|refused|gc/i.test(l)).slice(-20).join('\n')}`);
    });
    // The operator's only refused request is the optional namespace create (it then uses the existing one).
    expect(operator.output()).not.toMatch(/forbidden/i);
  });

  it('helm upgrade with changed values and a changed CRD schema keeps every object', async () => {
    await operator?.stop();
    const before = await getAgent(kc, 'default', 'demo-agent');
    // Someone edited the published certificate: the restarted operator repairs it.
    const core = kc.makeApiClient(CoreV1Api);
    const cm = await core.readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: NS });
    const published = cm.data?.['cert.pem'];
    await core.replaceNamespacedConfigMap({ name: cm.metadata?.name ?? '', namespace: NS, body: { ...cm, data: { 'cert.pem': 'stale' } } });

    const chart = join(work, 'chart');
    cpSync(CHART_DIR, chart, { recursive: true });
    const crdFile = join(chart, 'files', 'crds', `${GROUP}_confidentialagents.yaml`);
    const crd = parse(readFileSync(crdFile, 'utf8')) as { spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, unknown> } } } } }> } };
    crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.upgradeNote = { type: 'string', description: 'added by the upgrade test' };
    writeFileSync(crdFile, stringify(crd));
    const r = kubeHelm(['upgrade', RELEASE, chart, '--namespace', NS, '--values', DEV_VALUES, '--set', 'workers=2', '--set', 'logLevel=info']);
    expect(r.code, r.stderr).toBe(0);

    const served = await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: `confidentialagents.${GROUP}` });
    expect(Object.keys(served.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec?.properties ?? {})).toContain('upgradeNote');
    const after = await getAgent(kc, 'default', 'demo-agent');
    expect(after?.metadata.uid).toBe(before?.metadata.uid);
    const deployment = (await KubernetesObjectApi.makeApiClient(kc).read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: SA, namespace: NS } })) as PodTemplateOwner;
    expect((deployment.spec.template.spec.containers as unknown as Container[])[0]?.args).toContain('--workers=2');

    const token = await core.createNamespacedServiceAccountToken({ name: SA, namespace: NS, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    writeFileSync(join(work, 'sa.kubeconfig'), kubeconfigWithToken(kc, token.status?.token ?? ''), { mode: 0o600 });
    operator = runAsDeployment(deployment, join(work, 'sa.kubeconfig'));
    await waitFor('certificate repaired', async () => (await core.readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: NS })).data?.['cert.pem'] === published, { timeoutMs: 60_000 });
    await waitFor('demo-agent still Ready under the upgraded operator', async () => conditionOf(await getAgent(kc, 'default', 'demo-agent'), 'Ready')?.status === 'True', { timeoutMs: 60_000 });
    // The refused agent's Warning repeats on its 30 s retry: wait until the operator patched the Event series.
    await waitFor('a repeated Event patched by the operator', () =>
      readFileSync(controlPlane().auditLogPath!, 'utf8').split('\n').some((l) => l.includes(SA_USER) && l.includes('"verb":"patch"') && l.includes('"resource":"events"')) || undefined,
    { timeoutMs: 90_000, intervalMs: 1_000 });
    await operator.stop();
  }, 240_000);

  it('least privilege: every verb the chart grants was used by the operator (API server audit log)', () => {
    const events = readFileSync(controlPlane().auditLogPath!, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.user.username === SA_USER && e.stage !== 'RequestReceived');
    expect(events.length).toBeGreaterThan(20);
    const allowed = events.filter((e) => e.annotations?.['authorization.k8s.io/decision'] === 'allow');
    const forbidden = new Set(events.filter((e) => e.annotations?.['authorization.k8s.io/decision'] === 'forbid').map((e) => `${e.verb} ${e.objectRef?.resource}`));
    // The operator tries to create its namespace and falls back to the existing one when refused.
    expect([...forbidden]).toEqual(['create namespaces']);

    const objs = render({ values: [DEV_VALUES], namespace: NS, release: RELEASE });
    const roles = [...ofKind<Role>(objs, 'ClusterRole'), ...ofKind<Role>(objs, 'Role')];
    const bindings = [...ofKind<Binding>(objs, 'ClusterRoleBinding'), ...ofKind<Binding>(objs, 'RoleBinding')];
    type Grant = { role: string; namespace?: string; group: string; resource: string; verb: string; names?: string[] };
    const grants: Grant[] = [];
    for (const b of bindings) {
      const role = roles.find((r) => r.kind === b.roleRef.kind && r.metadata?.name === b.roleRef.name)!;
      // A RoleBinding grants in its own namespace; a ClusterRoleBinding everywhere.
      const namespace = b.kind === 'RoleBinding' ? b.metadata?.namespace : undefined;
      for (const rule of role.rules) {
        for (const group of rule.apiGroups) for (const resource of rule.resources) for (const verb of rule.verbs) {
          grants.push({ role: role.metadata?.name ?? '', ...(namespace ? { namespace } : {}), group, resource, verb, ...(rule.resourceNames ? { names: rule.resourceNames } : {}) });
        }
      }
    }
    const matches = (g: Grant, e: AuditEvent) => {
      const ref = e.objectRef ?? {};
      const resource = ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource;
      return (
        g.group === (ref.apiGroup ?? '') &&
        g.resource === resource &&
        g.verb === e.verb &&
        (g.namespace === undefined || g.namespace === ref.namespace) &&
        (g.names === undefined || (ref.name !== undefined && g.names.includes(ref.name)))
      );
    };
    const unused = grants.filter((g) => !allowed.some((e) => matches(g, e)));
    const summary = (g: Grant) => `${g.role}: ${g.verb} ${g.group || 'core'}/${g.resource}${g.names ? `[${g.names.join(',')}]` : ''}${g.namespace ? ` in ${g.namespace}` : ''}`;
    expect(unused.map(summary), `granted but never used by the operator:\n${unused.map(summary).join('\n')}`).toEqual([]);
  });

  it('helm uninstall with crds.keep leaves the CRDs and users\' objects; the operator objects are gone', async () => {
    const r = kubeHelm(['uninstall', RELEASE, '--namespace', NS]);
    expect(r.code, r.stderr).toBe(0);
    const crds = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
    expect(crds.items.filter((c) => c.metadata?.name?.endsWith(GROUP))).toHaveLength(3);
    expect((await getAgent(kc, 'default', 'demo-agent'))?.metadata.name).toBe('demo-agent');
    await expect(KubernetesObjectApi.makeApiClient(kc).read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: SA, namespace: NS } })).rejects.toThrow();
    // And the manifests helm removed are exactly the non-CRD ones it rendered.
    const rendered = parseManifests(kubeHelm(['template', RELEASE, CHART_DIR, '--namespace', NS, '--values', DEV_VALUES]).stdout);
    expect(rendered.some((o) => o.kind === 'CustomResourceDefinition')).toBe(true);
  });

  it('watchNamespace: with only namespaced Roles (and clusterId) the operator runs agents in that namespace and ignores the rest', async () => {
    const scopedNs = 'scoped-system';
    const release = 'scoped';
    const sa = `${release}-confidential-agent-operator`;
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: scopedNs, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } } });
    const set = ['watchNamespace=agents', 'clusterId=test-cluster', 'crds.install=false'];
    const r = kubeHelm(['install', release, CHART_DIR, '--namespace', scopedNs, '--values', DEV_VALUES, ...set.flatMap((x) => ['--set', x])]);
    expect(r.code, r.stderr).toBe(0);
    const { RbacAuthorizationV1Api } = await import('@kubernetes/client-node');
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    const selector = `app.kubernetes.io/instance=${release}`;
    expect((await rbac.listClusterRole({ labelSelector: selector })).items).toEqual([]);
    expect((await rbac.listClusterRoleBinding({ labelSelector: selector })).items).toEqual([]);
    expect((await rbac.listNamespacedRole({ namespace: 'agents', labelSelector: selector })).items.map((x) => x.metadata?.name)).toEqual([sa]);

    const token = await core.createNamespacedServiceAccountToken({ name: sa, namespace: scopedNs, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const path = join(work, 'scoped.kubeconfig');
    writeFileSync(path, kubeconfigWithToken(kc, token.status?.token ?? '', sa), { mode: 0o600 });
    const deployment = ofKind<PodTemplateOwner>(render({ values: [DEV_VALUES], set, namespace: scopedNs, release }), 'Deployment')[0]!;
    const scoped = runAsDeployment(deployment, path, scopedNs);
    try {
      const api = KubernetesObjectApi.makeApiClient(kc);
      const policy = { apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', spec: { allowSampleTee: true, minimumStatus: 'warning' } };
      const agent = (namespace: string, name: string) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'ConfidentialAgent', metadata: { name, namespace }, spec: { instance: { local: {} }, attestationPolicyRef: { name: 'dev' } } });
      await api.create({ ...policy, metadata: { name: 'dev', namespace: 'agents' } } as KubernetesObject);
      await api.create(agent('agents', 'scoped-agent') as KubernetesObject);
      await api.create(agent('default', 'outside') as KubernetesObject);
      await waitFor('scoped-agent Ready=True', async () => conditionOf(await getAgent(kc, 'agents', 'scoped-agent'), 'Ready')?.status === 'True', { timeoutMs: 120_000 }).catch((err: unknown) => {
        throw new Error(`${String(err)}\noperator output:\n${scoped.output().slice(-4000)}`, { cause: err });
      });
      expect((await getAgent(kc, 'default', 'outside'))?.status).toBeUndefined();
      expect(scoped.output()).not.toMatch(/forbidden/i);
    } finally {
      await scoped.stop();
    }
    expect(kubeHelm(['uninstall', release, '--namespace', scopedNs]).code).toBe(0);
  });
});
