// Helpers for the Helm chart tests: the pinned helm CLI and the gopher-lua health harness (both built
// from the Go module proxy by `make helm lua-health`, cached under ~/.cache/cai-operator), rendering,
// and reading the rendered objects.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './operator.ts';

export const CHART_DIR = join(REPO_ROOT, 'charts', 'confidential-agent-operator');

/** Every documented option (docs/install.md), each rendered, linted and (chart-install.test.ts) dry-run applied. */
export const OPTION_SETS: Record<string, string[]> = {
  'watchNamespace': ['watchNamespace=agents'],
  'clusterId': ['clusterId=prod-cluster-1'],
  'crds.install=false': ['crds.install=false'],
  'crds.keep=false': ['crds.keep=false'],
  'kbs + TLS + LoadBalancer': ['kbs.enabled=true', 'kbs.tls.secretName=kbs-tls', 'kbs.publicUrl=https://kbs.example.com:8081', 'kbs.service.type=LoadBalancer', 'kbs.service.loadBalancerSourceRanges[0]=10.0.0.0/8'],
  'kbs standalone': ['kbs.enabled=true', 'kbs.standalone.enabled=true', 'kbs.tls.secretName=kbs-tls', 'kbs.tls.caFromSecret=true'],
  'egress allow-lists': [
    'egress.allowedRekorUrls[0]=https://rekor.sigstore.dev',
    'egress.allowedPccsUrls[0]=https://api.trustedservices.intel.com',
    'egress.allowedRimUrls[0]=https://rim.attestation.nvidia.com',
    'egress.allowedOcspUrls[0]=https://ocsp.ndis.nvidia.com',
  ],
  'rrsa webhook': ['alibaba.credentials.rrsa.roleName=cao-ecs'],
  'rrsa projected token': ['alibaba.credentials.rrsa.roleArn=acs:ram::1234567890:role/cao-ecs', 'alibaba.credentials.rrsa.oidcProviderArn=acs:ram::1234567890:oidc-provider/ack-rrsa-c1'],
  'existing Secret': ['alibaba.credentials.mode=secret', 'alibaba.credentials.secret.name=alibaba-ak'],
  'ECS RAM role': ['alibaba.credentials.mode=ecsRamRole', 'alibaba.credentials.ecsRamRole.roleName=cao-node-role'],
  'alibaba endpoint': ['alibaba.endpoint=ecs-vpc.cn-hangzhou.aliyuncs.com', 'alibaba.requestsPerSecond=10'],
  'image digest + pull secret': ['image.digest=sha256:' + 'a'.repeat(64), 'imagePullSecrets[0].name=regcred'],
  'scheduling': ['nodeSelector.kubernetes\\.io/os=linux', 'tolerations[0].key=dedicated', 'tolerations[0].operator=Exists', 'tolerations[0].effect=NoSchedule', 'priorityClassName=system-cluster-critical'],
  'extra args/env, log level': ['extraArgs[0]=--gc-interval=120', 'extraEnv[0].name=NODE_EXTRA_CA_CERTS', 'extraEnv[0].value=/etc/ssl/extra/ca.pem', 'logLevel=debug'],
  'networkPolicy': ['networkPolicy.enabled=true', 'kbs.enabled=true', 'networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.name=monitoring'],
  'no leader election, one replica': ['replicaCount=1', 'leaderElection.enabled=false'],
  'existing ServiceAccount': ['serviceAccount.create=false', 'serviceAccount.name=my-operator'],
  'pod metadata, volumes, names': [
    'fullnameOverride=cao', 'podAnnotations.example\\.com/owner=platform', 'podLabels.team=platform', 'metrics.service.annotations.a=b',
    'extraVolumes[0].name=rims', 'extraVolumes[0].configMap.name=nvidia-rims', 'extraVolumeMounts[0].name=rims', 'extraVolumeMounts[0].mountPath=/rims',
    'extraVolumeMounts[0].readOnly=true', 'extraArgs[0]=--nvidia-rim-dir=/rims',
  ],
  'affinity, spread, PDB, protocol': [
    'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=node.kubernetes.io/instance-type',
    'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists',
    'topologySpreadConstraints[0].maxSkew=1', 'topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone', 'topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway',
    'topologySpreadConstraints[0].labelSelector.matchLabels.app\\.kubernetes\\.io/component=operator',
    'podDisruptionBudget.minAvailable=50%', 'alibaba.protocol=http', 'kbs.enabled=true', 'kbs.service.annotations.service\\.beta\\.kubernetes\\.io/alibaba-cloud-loadbalancer-spec=slb.s1.small',
  ],
};

export const DEV_VALUES = join(CHART_DIR, 'values-dev.yaml');
const CACHE = process.env.CAI_CACHE ?? join(homedir(), '.cache', 'cai-operator');

function tool(path: string, make: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`make ${make}\` (builds it from the Go module proxy)`);
  return path;
}

export const helmPath = () => tool(join(CACHE, 'helm', 'helm'), 'helm');
export const luaHealthPath = () => tool(join(CACHE, 'lua-health', 'lua-health'), 'lua-health');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with an isolated HOME/cache/config (no user repositories or plugins leak in). */
export function helm(args: string[], env: Record<string, string> = {}): Run {
  const home = join(CACHE, 'helm', 'home');
  const r = spawnSync(helmPath(), args, {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
      ...env,
    },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template` of the chart with values files and --set pairs; throws with helm's stderr on failure. */
export function render(opts: { values?: string[]; set?: string[]; namespace?: string; release?: string } = {}): KubernetesObject[] {
  const r = renderRaw(opts);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseManifests(r.stdout);
}

export function renderRaw(opts: { values?: string[]; set?: string[]; namespace?: string; release?: string } = {}): Run {
  return helm([
    'template',
    opts.release ?? 'cao',
    CHART_DIR,
    '--namespace',
    opts.namespace ?? 'confidential-agent-system',
    ...(opts.values ?? []).flatMap((v) => ['--values', v]),
    ...(opts.set ?? []).flatMap((s) => ['--set', s]),
  ]);
}

export function parseManifests(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => o !== null && typeof o === 'object' && typeof o.kind === 'string');
}

export const ofKind = <T = KubernetesObject & Record<string, unknown>>(objs: KubernetesObject[], kind: string): T[] =>
  objs.filter((o) => o.kind === kind) as T[];

export interface Health {
  status: string;
  message: string;
}

/** Runs an Argo CD health.lua over objects with gopher-lua (the engine Argo CD embeds). */
export function luaHealth(script: string, objects: object[]): Health[] {
  const r = spawnSync(luaHealthPath(), [script], { input: JSON.stringify(objects), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lua-health failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Health[];
}
