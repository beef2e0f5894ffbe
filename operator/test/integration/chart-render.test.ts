// The Helm chart, rendered by the pinned helm CLI: lint and template for the defaults and every
// documented option, the values schema rejecting typos with the field named, the CRD copies equal to
// crds/, and the properties a platform team relies on (no local provider by default, restricted pod
// security, least-privilege RBAC shape, V8 flags and resources in step with the benchmarks).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { OPERATOR_NODE_FLAGS } from '../../src/app/node-flags.ts';
import { CHART_DIR, DEV_VALUES, helm, ofKind, OPTION_SETS, render, renderRaw } from '../support/chart.ts';
import { REPO_ROOT } from '../support/operator.ts';

interface Container {
  name: string;
  command: string[];
  args: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: Record<string, unknown> }>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface Deployment {
  metadata: { name: string };
  spec: {
    replicas: number;
    template: { spec: { containers: Container[]; volumes?: Array<{ name: string }>; securityContext: Record<string, unknown>; automountServiceAccountToken?: boolean; affinity?: unknown } };
  };
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface RbacRole {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules: Rule[];
}


const operatorDeployment = (objs: ReturnType<typeof render>) => ofKind<Deployment>(objs, 'Deployment').find((d) => d.metadata.name.endsWith('operator'))!;
const container = (objs: ReturnType<typeof render>) => operatorDeployment(objs).spec.template.spec.containers[0]!;

describe('Helm chart: render', () => {
  it('chart version = appVersion = package.json version', () => {
    const chart = parse(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { apiVersion: string; version: string; appVersion: string };
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(chart.apiVersion).toBe('v2');
    expect(chart.version).toBe(pkg.version);
    expect(chart.appVersion).toBe(pkg.version);
  });

  it("the chart's CRDs are byte copies of crds/ (the zod-generated source)", () => {
    const source = readdirSync(join(REPO_ROOT, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    const copies = readdirSync(join(CHART_DIR, 'files', 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    expect(copies).toEqual(source);
    for (const f of source) {
      expect(readFileSync(join(CHART_DIR, 'files', 'crds', f), 'utf8'), `${f} drifted: cp crds/*.yaml charts/confidential-agent-operator/files/crds/`).toBe(readFileSync(join(REPO_ROOT, 'crds', f), 'utf8'));
    }
  });

  it('helm lint passes (strict) for the defaults, the dev values and every documented option', () => {
    const runs: Array<[string, string[]]> = [
      ['defaults', []],
      ['dev', ['--values', DEV_VALUES]],
      ...Object.entries(OPTION_SETS).map(([name, set]): [string, string[]] => [name, set.flatMap((s) => ['--set', s])]),
    ];
    for (const [name, args] of runs) {
      const r = helm(['lint', '--strict', CHART_DIR, ...args]);
      expect(r.code, `${name}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(renderRaw({ set: args.filter((a, i) => args[i - 1] === '--set'), values: args.filter((a, i) => args[i - 1] === '--values') }).code).toBe(0);
    }
  });

  it('the Argo CD Application example\'s values pass the schema and render', () => {
    const app = parse(readFileSync(join(REPO_ROOT, 'examples', 'argocd', 'application.yaml'), 'utf8')) as { spec: { source: { path: string; helm: { valuesObject: Record<string, unknown> } } } };
    expect(app.spec.source.path).toBe('charts/confidential-agent-operator');
    const dir = mkdtempSync(join(tmpdir(), 'argocd-values-'));
    try {
      writeFileSync(join(dir, 'values.yaml'), stringify(app.spec.source.helm.valuesObject));
      const objs = render({ values: [join(dir, 'values.yaml')] });
      expect(ofKind<{ metadata: { annotations?: Record<string, string> } }>(objs, 'ServiceAccount')[0]?.metadata.annotations?.['pod-identity.alibabacloud.com/role-name']).toBe('confidential-agent-operator');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a typo in values fails helm template with the field named', () => {
    const wrongType = renderRaw({ set: ['replicaCount=two'] });
    expect(wrongType.code).not.toBe(0);
    expect(wrongType.stderr).toMatch(/replicaCount/);
    expect(wrongType.stderr).toMatch(/integer/);
    const unknown = renderRaw({ set: ['replicas=3'] });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/additional properties 'replicas' not allowed|'replicas'/);
    const nested = renderRaw({ set: ['kbs.tsl.secretName=x'] });
    expect(nested.code).not.toBe(0);
    expect(nested.stderr).toMatch(/kbs/);
    expect(nested.stderr).toMatch(/tsl/);
    const provider = renderRaw({ set: ['providers[0]=aws'] });
    expect(provider.code).not.toBe(0);
    expect(provider.stderr).toMatch(/providers/);
    // Plaintext keys have nowhere to go: there is no value for them.
    const inline = renderRaw({ set: ['alibaba.credentials.accessKeySecret=abc'] });
    expect(inline.code).not.toBe(0);
    expect(inline.stderr).toMatch(/accessKeySecret/);
  });

  it('production defaults: alibaba only, never the local provider; dev values enable local', () => {
    expect(container(render()).args).toContain('--providers=alibaba');
    expect(container(render()).args.join(' ')).not.toMatch(/local/);
    const dev = render({ values: [DEV_VALUES] });
    expect(container(dev).args).toContain('--providers=local');
    expect(operatorDeployment(dev).spec.replicas).toBe(1);
    const r = renderRaw({ set: ['providers[0]=local', 'replicaCount=2'] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/local provider/);
  });

  it('Deployment: 2 replicas, leader election, probes, POD_NAMESPACE from the downward API, restricted security context', () => {
    const objs = render();
    const d = operatorDeployment(objs);
    const c = container(objs);
    expect(d.spec.replicas).toBe(2);
    expect(c.args).toContain('--leader-elect=true');
    expect(c.env).toContainEqual({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
    const probes = c as unknown as Record<string, { httpGet?: { path: string } }>;
    expect(probes.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(probes.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(d.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(d.spec.template.spec.affinity).toMatchObject({ podAntiAffinity: {} });
    expect(ofKind(objs, 'PodDisruptionBudget')).toHaveLength(1);
    const sa = ofKind<{ automountServiceAccountToken: boolean }>(objs, 'ServiceAccount')[0];
    expect(sa?.automountServiceAccountToken).toBe(false);
  });

  it('runs the V8 flags of app/node-flags.ts with a memory limit above the heap cap and the measured peak', () => {
    const c = container(render());
    expect(c.command).toEqual(['node', ...OPERATOR_NODE_FLAGS, 'dist/cli/main.js', 'operator']);
    const heapMiB = Number(/--max-old-space-size=(\d+)/.exec(OPERATOR_NODE_FLAGS.join(' '))?.[1]);
    const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1]);
    // docs/benchmarks.md: 180–183 MiB peak RSS at 1,000 agents.
    expect(mib(c.resources.requests.memory!)).toBeGreaterThanOrEqual(183);
    expect(mib(c.resources.limits.memory!)).toBeGreaterThan(heapMiB + 64);
    expect(c.resources.limits.cpu).toBeUndefined();
  });

  it('Services: metrics on 8080 always, the attestation service on 8082 by default, KBS on 8081 only with kbs.enabled (with TLS from a Secret)', () => {
    const services = (objs: ReturnType<typeof render>) => ofKind<{ metadata: { name: string }; spec: { ports: Array<{ port: number }> } }>(objs, 'Service');
    expect(services(render()).map((s) => [s.metadata.name, s.spec.ports[0]?.port])).toEqual([
      ['cao-confidential-agent-operator-metrics', 8080],
      ['cao-confidential-agent-operator-as', 8082],
    ]);
    // The attestation service: its own Service (the operator puts the Service's names in its certificate); loopback only when disabled.
    expect(container(render()).args).toEqual(expect.arrayContaining(['--as-bind-address=:8082', '--as-public-url=https://cao-confidential-agent-operator-as.confidential-agent-system.svc:8082']));
    const noAs = render({ set: ['attestationService.enabled=false'] });
    expect(services(noAs).map((s) => s.spec.ports[0]?.port)).toEqual([8080]);
    expect(container(noAs).args).toContain('--as-bind-address=127.0.0.1:8082');
    expect(container(render()).args).toContain('--kbs-host=127.0.0.1');
    const kbs = render({ set: OPTION_SETS['kbs + TLS + LoadBalancer'] });
    expect(services(kbs).map((s) => s.spec.ports[0]?.port).sort()).toEqual([8080, 8081, 8082]);
    const c = container(kbs);
    expect(c.args).toEqual(expect.arrayContaining(['--kbs-host=0.0.0.0', '--kbs-tls-cert=/etc/confidential-agent/kbs-tls/tls.crt', '--kbs-tls-key=/etc/confidential-agent/kbs-tls/tls.key', '--kbs-public-url=https://kbs.example.com:8081']));
    expect(c.volumeMounts).toContainEqual(expect.objectContaining({ name: 'kbs-tls', mountPath: '/etc/confidential-agent/kbs-tls' }));
    const standalone = render({ set: OPTION_SETS['kbs standalone'] });
    const kbsDeployment = ofKind<Deployment>(standalone, 'Deployment').find((d) => d.metadata.name.endsWith('-kbs'));
    expect(kbsDeployment?.spec.template.spec.containers[0]?.command.slice(-1)).toEqual(['kbs']);
    expect(container(standalone).args).toContain('--kbs-host=127.0.0.1');
    expect(kbsDeployment?.spec.template.spec.containers[0]?.args).toContain('--kbs-tls-ca=/etc/confidential-agent/kbs-tls/ca.crt');
    expect(c.args.join(' ')).not.toMatch(/--kbs-tls-ca/);
  });

  it('provider credentials are references only: RRSA annotation, projected OIDC token, secretKeyRef, ECS RAM role', () => {
    const rrsa = render({ set: OPTION_SETS['rrsa webhook'] });
    expect(ofKind<{ metadata: { annotations?: Record<string, string> } }>(rrsa, 'ServiceAccount')[0]?.metadata.annotations).toEqual({ 'pod-identity.alibabacloud.com/role-name': 'cao-ecs' });
    const projected = container(render({ set: OPTION_SETS['rrsa projected token'] }));
    expect(projected.env?.map((e) => e.name)).toEqual(expect.arrayContaining(['ALIBABA_CLOUD_ROLE_ARN', 'ALIBABA_CLOUD_OIDC_PROVIDER_ARN', 'ALIBABA_CLOUD_OIDC_TOKEN_FILE']));
    const secret = container(render({ set: OPTION_SETS['existing Secret'] }));
    expect(secret.env?.find((e) => e.name === 'ALIBABA_CLOUD_ACCESS_KEY_SECRET')).toEqual({ name: 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', valueFrom: { secretKeyRef: { name: 'alibaba-ak', key: 'access-key-secret' } } });
    const missing = renderRaw({ set: ['alibaba.credentials.mode=secret'] });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/alibaba\.credentials\.secret\.name is required/);
    expect(container(render({ set: OPTION_SETS['ECS RAM role'] })).env).toContainEqual({ name: 'ALIBABA_CLOUD_ECS_METADATA', value: 'cao-node-role' });
  });

  it('RBAC: no wildcard, no cluster-wide Secret access, every rule commented; watchNamespace makes the kinds a Role', () => {
    const roles = (objs: ReturnType<typeof render>) => [...ofKind<RbacRole>(objs, 'ClusterRole'), ...ofKind<RbacRole>(objs, 'Role')];
    for (const set of [[], ...Object.values(OPTION_SETS)]) {
      for (const role of roles(render({ set }))) {
        for (const rule of role.rules) {
          expect([...rule.verbs, ...rule.resources, ...rule.apiGroups]).not.toContain('*');
          if (role.kind === 'ClusterRole') expect(rule.resources).not.toContain('secrets');
        }
      }
    }
    const template = readFileSync(join(CHART_DIR, 'templates', 'rbac.yaml'), 'utf8').split('\n');
    template.forEach((line, i) => {
      if (/^\s+- apiGroups:/.test(line)) {
        let j = i - 1;
        while (/^\s*\{\{-? (if|end)/.test(template[j] ?? '')) j--;
        expect(template[j], `rule at rbac.yaml:${i + 1} has no comment naming its code path`).toMatch(/^\s+#/);
      }
    });
    const cluster = roles(render()).filter((r) => r.kind === 'ClusterRole').map((r) => r.metadata.name);
    expect(cluster).toEqual(['cao-confidential-agent-operator', 'cao-confidential-agent-operator-cluster-id']);
    const scoped = roles(render({ set: ['watchNamespace=agents', 'clusterId=c1'] }));
    expect(scoped.filter((r) => r.kind === 'ClusterRole')).toEqual([]);
    expect(scoped.find((r) => r.metadata.name === 'cao-confidential-agent-operator')?.metadata.namespace).toBe('agents');
    expect(container(render({ set: ['watchNamespace=agents'] })).args).toContain('--namespace=agents');
  });

  it('CRDs carry helm.sh/resource-policy=keep unless crds.keep=false, and are absent with crds.install=false', () => {
    const crds = (set: string[]) => ofKind<{ metadata: { annotations?: Record<string, string> } }>(render({ set }), 'CustomResourceDefinition');
    expect(crds([]).map((c) => c.metadata.annotations?.['helm.sh/resource-policy'])).toEqual(['keep', 'keep', 'keep']);
    expect(crds(['crds.keep=false']).map((c) => c.metadata.annotations?.['helm.sh/resource-policy'])).toEqual([undefined, undefined, undefined]);
    expect(crds(['crds.install=false'])).toEqual([]);
  });

  it('optional flags appear only when their values are set (egress allow-lists, cluster id, endpoint)', () => {
    const plain = container(render()).args.join(' ');
    expect(plain).not.toMatch(/--allowed-rekor-urls|--allowed-pccs-urls|--cluster-id|--alibaba-endpoint|--kbs-tls/);
    const set = container(render({ set: [...OPTION_SETS['egress allow-lists']!, ...OPTION_SETS['alibaba endpoint']!, 'clusterId=c1'] })).args;
    expect(set).toEqual(expect.arrayContaining(['--allowed-rekor-urls=https://rekor.sigstore.dev', '--allowed-pccs-urls=https://api.trustedservices.intel.com', '--alibaba-endpoint=ecs-vpc.cn-hangzhou.aliyuncs.com', '--cluster-id=c1']));
  });
});
