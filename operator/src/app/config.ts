// Operator configuration from flags and environment (flags win). Parsed once, validated, typed.
import { parseArgs } from 'node:util';
import { EgressError, parseUrlPrefixes } from '../net/egress.ts';

/** Public-good Sigstore Rekor and Intel PCS: the only log / PCCS an AttestationPolicy may name by default. */
export const DEFAULT_ALLOWED_REKOR_URLS = ['https://rekor.sigstore.dev/'];
export const DEFAULT_ALLOWED_PCCS_URLS = ['https://api.trustedservices.intel.com/'];
/** NVIDIA's public RIM service and OCSP responder: the only ones a policy's gpu section may name by default. */
export const DEFAULT_ALLOWED_RIM_URLS = ['https://rim.attestation.nvidia.com/'];
export const DEFAULT_ALLOWED_OCSP_URLS = ['https://ocsp.ndis.nvidia.com/'];

export interface OperatorConfig {
  kubeconfig?: string;
  /** Namespace to watch; all namespaces when undefined. */
  watchNamespace?: string;
  /** Namespace holding the operator's own state: sealing keys, EAR signing key, leader Lease. */
  operatorNamespace: string;
  clusterId?: string;
  providers: Array<'local' | 'alibaba'>;
  localCloudUrl?: string;
  alibabaEndpoint?: string;
  alibabaProtocol: 'http' | 'https';
  alibabaRequestsPerSecond: number;
  workers: number;
  httpHost: string;
  httpPort: number;
  kbsHost: string;
  kbsPort: number;
  /** URL guests use to reach the KBS (what the bootstrap config carries). */
  kbsPublicUrl?: string;
  /** KBS TLS: files (reloaded on change), a generated development CA (default), or plain HTTP (opt-out). */
  kbsTls: KbsTlsConfig;
  /** false: the KBS runs elsewhere (`cai kbs`); guests are sent to kbsPublicUrl, trusting kbsTls.caFile. */
  kbsEmbedded: boolean;
  /** The attestation service TNG gateways verify against (HTTPS from the operator's AS CA); undefined: disabled. */
  attestationService?: { host: string; port: number; publicUrl?: string; tlsHosts: string[] };
  leaderElect: boolean;
  leaseName: string;
  identity?: string;
  logLevel: string;
  gcIntervalSeconds: number;
  /** Orphans younger than this are left alone (informer caches may lag their creation). */
  gcMinAgeSeconds: number;
  /** How often an attested agent's instance is described again to notice a reboot (default per provider). */
  instanceRecheckSeconds?: number;
  /** Air-gapped GPU attestation: read RIMs from this directory (a mounted volume) instead of the RIM service. */
  nvidiaRimDir?: string;
  /** URL prefixes a policy's spec.tdx.referenceValues.rekor.url must fall under (normalised, '/'-terminated). */
  allowedRekorUrls: string[];
  /** URL prefixes a policy's spec.tdx.pccsUrl must fall under. */
  allowedPccsUrls: string[];
  /** URL prefixes a policy's spec.gpu.rimServiceUrl must fall under. */
  allowedRimUrls: string[];
  /** URL prefixes a policy's spec.gpu.ocspUrl must fall under. */
  allowedOcspUrls: string[];
  /** An attestation service elsewhere for the agents' TNG gateways (default: the operator's own AS and its CA). */
  endpointAsUrl?: string;
  /** Default TNG gateway image (an agent's spec.endpoint.image overrides). */
  tngImage?: string;
}

export type KbsTlsConfig =
  | { mode: 'files'; certFile: string; keyFile: string; caFile?: string; reloadIntervalMs: number }
  /** caFile alone: with --kbs-embedded=false, what guests trust the separate KBS with. */
  | { mode: 'generated'; caFile?: string }
  | { mode: 'http' };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const OPTIONS = {
  kubeconfig: { type: 'string' },
  namespace: { type: 'string' },
  'operator-namespace': { type: 'string' },
  'cluster-id': { type: 'string' },
  providers: { type: 'string' },
  'local-cloud-url': { type: 'string' },
  'alibaba-endpoint': { type: 'string' },
  'alibaba-protocol': { type: 'string' },
  'alibaba-rps': { type: 'string' },
  workers: { type: 'string' },
  'http-host': { type: 'string' },
  'http-port': { type: 'string' },
  'kbs-host': { type: 'string' },
  'kbs-port': { type: 'string' },
  'kbs-public-url': { type: 'string' },
  'kbs-tls': { type: 'string' },
  'kbs-tls-cert': { type: 'string' },
  'kbs-tls-key': { type: 'string' },
  'kbs-tls-ca': { type: 'string' },
  'kbs-tls-reload-interval': { type: 'string' },
  'kbs-embedded': { type: 'string' },
  'attestation-service': { type: 'string' },
  'as-bind-address': { type: 'string' },
  'as-public-url': { type: 'string' },
  'as-tls-hosts': { type: 'string' },
  'leader-elect': { type: 'string' },
  'lease-name': { type: 'string' },
  'endpoint-as-url': { type: 'string' },
  'tng-image': { type: 'string' },
  identity: { type: 'string' },
  'log-level': { type: 'string' },
  'gc-interval': { type: 'string' },
  'gc-min-age': { type: 'string' },
  'instance-recheck': { type: 'string' },
  'nvidia-rim-dir': { type: 'string' },
  'allowed-rekor-urls': { type: 'string' },
  'allowed-pccs-urls': { type: 'string' },
  'allowed-rim-urls': { type: 'string' },
  'allowed-ocsp-urls': { type: 'string' },
} as const;

export const OPERATOR_USAGE = `Usage: cai operator [options]
  --kubeconfig FILE          kubeconfig (default: $KUBECONFIG, else in-cluster)
  --namespace NS             watch only this namespace (default: all)
  --operator-namespace NS    namespace for sealing keys, EAR key and leader Lease (default: $POD_NAMESPACE or confidential-agent-system)
  --cluster-id ID            ownership tag value (default: UID of the kube-system namespace)
  --providers LIST           comma list of alibaba,local (default: alibaba). \`local\` is the simulated
                             sample-TEE provider for development: opt-in only, never enabled by default
  --local-cloud-url URL      local cloud API (default: an embedded local cloud)
  --alibaba-endpoint HOST    ECS endpoint override (e.g. 127.0.0.1:PORT for the simulator)
  --alibaba-protocol P       http|https (default https)
  --alibaba-rps N            ECS API requests per second budget (default 5)
  --workers N                reconcile workers per controller (default 4)
  --http-host H --http-port P   /metrics, /healthz, /readyz (default 0.0.0.0:8080)
  --kbs-host H --kbs-port P     KBS 0.4.0 server (default 0.0.0.0:8081)
  --kbs-public-url URL       KBS URL guests are told to use (default https://<kbs-host>:<kbs-port>)
  --kbs-tls-cert FILE --kbs-tls-key FILE   KBS serving certificate (chain) and key, PEM; re-read when they
                             change (e.g. a mounted Secret). Without them a development CA is generated.
  --kbs-tls-ca FILE          CA guests trust the KBS with (bootstrap kbs_cert; default: the certificate file)
  --kbs-tls-reload-interval SECONDS   how often the TLS files are checked for changes (default 10)
  --kbs-tls true|false       false serves plain HTTP (development only; default true)
  --kbs-embedded true|false  false: do not run the KBS here (it runs as \`cai kbs\`); needs --kbs-public-url
  --attestation-service true|false   serve the attestation service TNG gateways verify against (default true)
  --as-bind-address HOST:PORT   its listen address (default :8082, i.e. 0.0.0.0:8082); HTTPS from the operator AS CA
  --as-public-url URL        URL gateways use (default https://confidential-agent-operator-as.<operator-namespace>.svc:<port>)
  --as-tls-hosts LIST        extra DNS names / IPs for its serving certificate (comma list)
  --endpoint-as-url URL      agents' TNG gateways verify against this AS instead of the operator's own (no CA pinned)
  --tng-image IMAGE          default TNG gateway image (spec.endpoint.image overrides; default ghcr.io/inclavare-containers/tng:2.12.0)
  --leader-elect true|false  Lease-based leader election (default true)
  --lease-name NAME          Lease name (default confidential-agent-operator)
  --identity ID              leader-election identity (default hostname + random suffix)
  --log-level LEVEL          pino level (default info)
  --gc-interval SECONDS      orphan garbage-collection interval (default 60)
  --gc-min-age SECONDS       leave orphans younger than this alone (default 30)
  --instance-recheck SECONDS describe an attested agent's instance again this often to notice a reboot
                             (default 30 local, 600 alibaba; on a wall-clock grid, describes batched 100 per call)
  --nvidia-rim-dir DIR       read NVIDIA RIMs from this directory (a mounted volume) instead of the RIM service
  --allowed-rekor-urls LIST  comma list of URL prefixes a policy's rekor.url may use (default https://rekor.sigstore.dev/)
  --allowed-pccs-urls LIST   comma list of URL prefixes a policy's pccsUrl may use (default https://api.trustedservices.intel.com/)
  --allowed-rim-urls LIST    comma list of URL prefixes a policy's gpu.rimServiceUrl may use (default https://rim.attestation.nvidia.com/)
  --allowed-ocsp-urls LIST   comma list of URL prefixes a policy's gpu.ocspUrl may use (default https://ocsp.ndis.nvidia.com/)`;

/** A comma list of URL prefixes; '' (explicitly empty) allows nothing. */
export function urlPrefixes(name: string, value: string | undefined, fallback: string[]): string[] {
  if (value === undefined) return fallback;
  try {
    return parseUrlPrefixes(value.split(',').map((x) => x.trim()).filter(Boolean), `--${name}`).map((p) => p.text);
  } catch (err) {
    throw new ConfigError(err instanceof EgressError ? err.message : String(err));
  }
}

function int(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`--${name} must be an integer between ${min} and ${max}, got '${value}'`);
  return n;
}

function bool(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value !== 'true' && value !== 'false') throw new ConfigError(`--${name} must be true or false, got '${value}'`);
  return value === 'true';
}

/** `HOST:PORT`, `:PORT` (all interfaces) or `[v6]:PORT`. */
export function parseBindAddress(name: string, value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (!m) throw new ConfigError(`--${name} must be HOST:PORT, :PORT or [IPv6]:PORT, got '${value}'`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: int(name, m[3], 0, 0, 65535) };
}

function checkUrl(name: string, value: string): void {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(`--${name} must be an absolute http(s) URL, got '${value}'`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ConfigError(`--${name} must be an http(s) URL, got '${value}'`);
}

/** KBS TLS flags; shared with `cai kbs`. */
export function parseKbsTls(values: Record<string, string | undefined>): KbsTlsConfig {
  const enabled = bool('kbs-tls', values['kbs-tls'], true);
  const cert = values['kbs-tls-cert'];
  const key = values['kbs-tls-key'];
  const ca = values['kbs-tls-ca'];
  if (!enabled) {
    if (cert || key || ca) throw new ConfigError('--kbs-tls=false cannot be combined with --kbs-tls-cert/--kbs-tls-key/--kbs-tls-ca');
    return { mode: 'http' };
  }
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError('--kbs-tls-cert and --kbs-tls-key go together');
  const reload = int('kbs-tls-reload-interval', values['kbs-tls-reload-interval'], 10, 1, 3600);
  if (cert && key) return { mode: 'files', certFile: cert, keyFile: key, ...(ca ? { caFile: ca } : {}), reloadIntervalMs: reload * 1000 };
  return { mode: 'generated', ...(ca ? { caFile: ca } : {}) };
}

export function parseOperatorConfig(args: string[], env: NodeJS.ProcessEnv): OperatorConfig {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  // The simulated `local` provider (sample TEE, no hardware protection) runs only when asked for.
  const providers = (values.providers ?? env.CAI_PROVIDERS ?? 'alibaba').split(',').map((p) => p.trim()).filter(Boolean);
  if (providers.length === 0) throw new ConfigError('--providers must name at least one provider (alibaba, local)');
  for (const p of providers) if (p !== 'local' && p !== 'alibaba') throw new ConfigError(`--providers: unknown provider '${p}' (expected local, alibaba)`);
  const protocol = values['alibaba-protocol'] ?? 'https';
  if (protocol !== 'http' && protocol !== 'https') throw new ConfigError(`--alibaba-protocol must be http or https, got '${protocol}'`);
  const leader = values['leader-elect'] ?? 'true';
  if (leader !== 'true' && leader !== 'false') throw new ConfigError(`--leader-elect must be true or false, got '${leader}'`);
  const kbsHost = values['kbs-host'] ?? '0.0.0.0';
  const kbsPort = int('kbs-port', values['kbs-port'], 8081, 0, 65535);
  const kbsTls = parseKbsTls(values);
  const embedded = bool('kbs-embedded', values['kbs-embedded'], true);
  if (values['kbs-public-url'] !== undefined) checkUrl('kbs-public-url', values['kbs-public-url']);
  if (values['endpoint-as-url'] !== undefined) checkUrl('endpoint-as-url', values['endpoint-as-url']);
  if (!embedded && !values['kbs-public-url']) throw new ConfigError('--kbs-embedded=false needs --kbs-public-url (where guests reach the separate KBS)');
  if (!embedded && kbsTls.mode === 'generated' && !kbsTls.caFile) throw new ConfigError('--kbs-embedded=false needs --kbs-tls-ca (what guests trust the separate KBS with) or --kbs-tls=false');
  const asEnabled = bool('attestation-service', values['attestation-service'], true);
  if (values['as-public-url'] !== undefined) {
    checkUrl('as-public-url', values['as-public-url']);
    if (!values['as-public-url'].startsWith('https:')) throw new ConfigError('--as-public-url must be https: the attestation service is served over TLS only (a plain-HTTP AS lets a network attacker add token anchors)');
  }
  const asBind = parseBindAddress('as-bind-address', values['as-bind-address'] ?? ':8082');
  const attestationService = asEnabled
    ? {
        ...asBind,
        ...(values['as-public-url'] ? { publicUrl: values['as-public-url'] } : {}),
        tlsHosts: (values['as-tls-hosts'] ?? '').split(',').map((h) => h.trim()).filter(Boolean),
      }
    : undefined;
  return {
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
    watchNamespace: values.namespace,
    operatorNamespace: values['operator-namespace'] ?? env.POD_NAMESPACE ?? 'confidential-agent-system',
    ...(attestationService ? { attestationService } : {}),
    clusterId: values['cluster-id'],
    providers: providers as OperatorConfig['providers'],
    localCloudUrl: values['local-cloud-url'],
    alibabaEndpoint: values['alibaba-endpoint'],
    alibabaProtocol: protocol,
    alibabaRequestsPerSecond: int('alibaba-rps', values['alibaba-rps'], 5, 1, 1000),
    workers: int('workers', values.workers, 4, 1, 64),
    httpHost: values['http-host'] ?? '0.0.0.0',
    httpPort: int('http-port', values['http-port'], 8080, 0, 65535),
    kbsHost,
    kbsPort,
    kbsPublicUrl: values['kbs-public-url'],
    kbsTls,
    kbsEmbedded: embedded,
    leaderElect: leader === 'true',
    leaseName: values['lease-name'] ?? 'confidential-agent-operator',
    identity: values.identity,
    logLevel: values['log-level'] ?? env.LOG_LEVEL ?? 'info',
    gcIntervalSeconds: int('gc-interval', values['gc-interval'], 60, 1, 86400),
    gcMinAgeSeconds: int('gc-min-age', values['gc-min-age'], 30, 0, 86400),
    ...(values['instance-recheck'] !== undefined ? { instanceRecheckSeconds: int('instance-recheck', values['instance-recheck'], 0, 1, 86400) } : {}),
    nvidiaRimDir: values['nvidia-rim-dir'],
    allowedRekorUrls: urlPrefixes('allowed-rekor-urls', values['allowed-rekor-urls'], DEFAULT_ALLOWED_REKOR_URLS),
    allowedPccsUrls: urlPrefixes('allowed-pccs-urls', values['allowed-pccs-urls'], DEFAULT_ALLOWED_PCCS_URLS),
    allowedRimUrls: urlPrefixes('allowed-rim-urls', values['allowed-rim-urls'], DEFAULT_ALLOWED_RIM_URLS),
    allowedOcspUrls: urlPrefixes('allowed-ocsp-urls', values['allowed-ocsp-urls'], DEFAULT_ALLOWED_OCSP_URLS),
    ...(values['endpoint-as-url'] ? { endpointAsUrl: values['endpoint-as-url'] } : {}),
    ...(values['tng-image'] ? { tngImage: values['tng-image'] } : {}),
  };
}
