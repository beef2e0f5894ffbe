// `cai kbs`: the operator's KBS as its own process (a separate Deployment in the chart), with its own
// informers over agents, policies, credentials, RIM ConfigMaps and the sealing keyring, and the same KBS
// entry point as the operator's worker. It reads the operator's EAR key and keyring Secrets and writes
// nothing but Events on agents whose requesters it refused; it runs no controllers and no leader election.
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { SealedCredential } from '../api/sealed-credential.ts';
import { AGENTS, CONFIGMAPS, CREDENTIALS, POLICIES, scoped } from '../controllers/resources.ts';
import { SealingKeyStore } from '../release/sealing/store.ts';
import { Manager } from '../runtime/manager.ts';
import { DomainMetrics } from '../metrics/domain.ts';
import { shareDispatcher } from '../runtime/shared-dispatcher.ts';
import { parseArgs } from 'node:util';
import {
  ConfigError,
  DEFAULT_ALLOWED_OCSP_URLS,
  DEFAULT_ALLOWED_PCCS_URLS,
  DEFAULT_ALLOWED_REKOR_URLS,
  DEFAULT_ALLOWED_RIM_URLS,
  parseKbsTls,
  urlPrefixes,
  type KbsTlsConfig,
} from './config.ts';
import { egressListsOf, type EgressLists } from './verifiers.ts';
import { loadOrCreateEarSigner } from './ear-key.ts';
import { kbsTlsMode, startKbsService, type KbsService } from './kbs-service.ts';
import { receiptWriter } from './kbs-receipts.ts';
import { liveKeyring } from './sealing-keyring.ts';
import { liveSessionKeys, loadOrCreateSessionKeys } from './kbs-session-keys.ts';

export interface KbsProcessConfig {
  kubeconfig?: string | undefined;
  watchNamespace?: string | undefined;
  operatorNamespace: string;
  kbsHost: string;
  kbsPort: number;
  kbsPublicUrl?: string | undefined;
  kbsTls: KbsTlsConfig;
  nvidiaRimDir?: string | undefined;
  /** The operator's egress allow-lists (the KBS verifies GPU evidence, which fetches RIMs and OCSP answers). */
  egress: Required<EgressLists>;
  httpHost: string;
  httpPort: number;
  logLevel: string;
}

export const KBS_USAGE = `Usage: cai kbs [options]
Runs the operator's KBS 0.4.0 server as its own process (run the operator with --kbs-embedded=false).
  --kubeconfig FILE          kubeconfig (default: $KUBECONFIG, else in-cluster)
  --namespace NS             watch only this namespace (default: all)
  --operator-namespace NS    where the sealing keyring and EAR key Secrets are (default: $POD_NAMESPACE or confidential-agent-system)
  --kbs-host H --kbs-port P  listen address (default 0.0.0.0:8081)
  --kbs-public-url URL       URL guests use (informational here; the operator tells guests)
  --kbs-tls-cert FILE --kbs-tls-key FILE   serving certificate and key (re-read on change)
  --kbs-tls-ca FILE          CA guests trust (default: the certificate file)
  --kbs-tls-reload-interval SECONDS   (default 10)
  --kbs-tls true|false       false: plain HTTP (development only)
  --nvidia-rim-dir DIR       NVIDIA RIMs from a mounted directory
  --allowed-rekor-urls, --allowed-pccs-urls, --allowed-rim-urls, --allowed-ocsp-urls LIST
                             the operator's egress allow-lists (same flags and defaults as cai operator)
  --http-host H --http-port P   /metrics, /healthz, /readyz (default 0.0.0.0:8080)
  --log-level LEVEL          pino level (default info)`;

const OPTIONS = {
  kubeconfig: { type: 'string' },
  namespace: { type: 'string' },
  'operator-namespace': { type: 'string' },
  'kbs-host': { type: 'string' },
  'kbs-port': { type: 'string' },
  'kbs-public-url': { type: 'string' },
  'kbs-tls': { type: 'string' },
  'kbs-tls-cert': { type: 'string' },
  'kbs-tls-key': { type: 'string' },
  'kbs-tls-ca': { type: 'string' },
  'kbs-tls-reload-interval': { type: 'string' },
  'nvidia-rim-dir': { type: 'string' },
  'allowed-rekor-urls': { type: 'string' },
  'allowed-pccs-urls': { type: 'string' },
  'allowed-rim-urls': { type: 'string' },
  'allowed-ocsp-urls': { type: 'string' },
  'http-host': { type: 'string' },
  'http-port': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

function port(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`--${name} must be an integer between 0 and 65535, got '${v}'`);
  return n;
}

export function parseKbsProcessConfig(args: string[], env: NodeJS.ProcessEnv): KbsProcessConfig {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  return {
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
    watchNamespace: values.namespace,
    operatorNamespace: values['operator-namespace'] ?? env.POD_NAMESPACE ?? 'confidential-agent-system',
    kbsHost: values['kbs-host'] ?? '0.0.0.0',
    kbsPort: port('kbs-port', values['kbs-port'], 8081),
    kbsPublicUrl: values['kbs-public-url'],
    kbsTls: parseKbsTls(values),
    nvidiaRimDir: values['nvidia-rim-dir'],
    egress: {
      allowedRekorUrls: urlPrefixes('allowed-rekor-urls', values['allowed-rekor-urls'], DEFAULT_ALLOWED_REKOR_URLS),
      allowedPccsUrls: urlPrefixes('allowed-pccs-urls', values['allowed-pccs-urls'], DEFAULT_ALLOWED_PCCS_URLS),
      allowedRimUrls: urlPrefixes('allowed-rim-urls', values['allowed-rim-urls'], DEFAULT_ALLOWED_RIM_URLS),
      allowedOcspUrls: urlPrefixes('allowed-ocsp-urls', values['allowed-ocsp-urls'], DEFAULT_ALLOWED_OCSP_URLS),
    },
    httpHost: values['http-host'] ?? '0.0.0.0',
    httpPort: port('http-port', values['http-port'], 8080),
    logLevel: values['log-level'] ?? env.LOG_LEVEL ?? 'info',
  };
}

export interface KbsProcess {
  kbs: KbsService;
  manager: Manager;
  stop(): Promise<void>;
}

export async function startKbsProcess(config: KbsProcessConfig, opts: { logger: Logger; kubeConfig?: KubeConfig }): Promise<KbsProcess> {
  const kubeConfig = shareDispatcher(opts.kubeConfig ?? loadKubeConfig(config.kubeconfig));
  const logger = opts.logger;
  const manager = new Manager({ kubeConfig, logger, httpHost: config.httpHost, httpPort: config.httpPort, leaderElection: false });
  const agents = manager.informer<ConfidentialAgent>(scoped(AGENTS, config.watchNamespace));
  const policies = manager.informer<AttestationPolicy>(scoped(POLICIES, config.watchNamespace));
  const credentials = manager.informer<SealedCredential>(scoped(CREDENTIALS, config.watchNamespace));
  const core = manager.client.core;
  // The KBS's domain families (attestations, releases, requests, sessions, trust material) on this process's /metrics.
  const metrics = new DomainMetrics(manager.metrics);
  const keyring = liveKeyring(manager, config.operatorNamespace, await new SealingKeyStore().loadOrCreate(core, config.operatorNamespace), logger, (k) =>
    metrics.sealingKeyring(k.keys.length, new Date(k.active.createdAt)),
  );
  const signer = await loadOrCreateEarSigner(core, config.operatorNamespace, (created) => metrics.earKey(created));
  const sessionKeys = liveSessionKeys(manager, config.operatorNamespace, await loadOrCreateSessionKeys(core, config.operatorNamespace), logger);
  await manager.start();
  // What this process releases is recorded on the agents, where the operator's release phase reads it.
  const receipts = receiptWriter({ clients: manager.client, signer, agents, logger: logger.child({ component: 'kbs-receipts' }) });
  // Already its own process: the KBS runs inline here (no worker needed to protect reconcilers).
  const kbs = await startKbsService({
    agents,
    policies,
    credentials,
    configMaps: manager.informer(scoped(CONFIGMAPS, config.operatorNamespace)),
    keyring,
    sessionKeys,
    signer,
    host: config.kbsHost,
    port: config.kbsPort,
    ...(config.kbsPublicUrl ? { publicUrl: config.kbsPublicUrl } : {}),
    tls: kbsTlsMode(config.kbsTls, config),
    ...(config.nvidiaRimDir ? { nvidiaRimDir: config.nvidiaRimDir } : {}),
    egress: egressListsOf(config.egress),
    events: manager.events,
    logger: logger.child({ component: 'kbs' }),
    isolation: 'inline',
    metrics,
    receipts,
  });
  return {
    kbs,
    manager,
    async stop() {
      await kbs.server.close();
      await receipts.idle();
      await manager.stop();
    },
  };
}

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
