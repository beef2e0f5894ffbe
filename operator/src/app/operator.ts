// Composition root: builds the runtime Manager, providers, informers, reconcilers, garbage collector
// and release services from an OperatorConfig, and starts them. Nothing here decides anything.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { SealedCredential } from '../api/sealed-credential.ts';
import { startLocalCloud, type LocalCloud } from '../sim/local/cloud-server.ts';
import { workloadGuestLauncher } from '../sim/local/guest-launcher.ts';
import { findTngBinary } from '../sim/local/tng-process.ts';
import { createLocalProvider } from '../cloud/local/provider.ts';
import { agentReconciler } from '../controllers/agent/controller.ts';
import type { ProviderSet } from '../cloud/provider-set.ts';
import { agentLifecycle } from '../controllers/agent/lifecycle.ts';
import { policyReconciler } from '../controllers/attestation-policy.ts';
import { startGarbageCollector } from '../controllers/garbage-collector.ts';
import { AGENTS, CREDENTIALS, ENDPOINT_CONFIGMAPS, ENDPOINT_DEPLOYMENTS, ENDPOINT_SERVICES, POLICIES, scoped } from '../controllers/resources.ts';
import { filterUpdates } from '../controllers/predicates.ts';
import { credentialReconciler } from '../controllers/sealed-credential.ts';
import { DomainMetrics } from '../metrics/domain.ts';
import { registerStateMetrics } from '../metrics/state.ts';
import { Manager, type ObjectKey } from '../runtime/manager.ts';
import { getObject } from '../runtime/rest.ts';
import { shareDispatcher } from '../runtime/shared-dispatcher.ts';
import type { OperatorConfig } from './config.ts';
import { defaultAsPublicUrl } from './as-service.ts';
import { buildServices } from './services.ts';
import type { TrustAnchors } from './verifiers.ts';

export interface OperatorHandle {
  manager: Manager;
  metrics: DomainMetrics;
  clusterId: string;
  localCloud?: LocalCloud;
  providers: ProviderSet;
  /** Runs one garbage-collection sweep now (leader only); returns how many orphans it deleted. */
  sweepOrphans(): Promise<number>;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  kubeConfig?: KubeConfig;
  /** Tests only: roots of a private PKI instead of the pinned Intel/NVIDIA roots. */
  trustAnchors?: TrustAnchors;
}

export async function startOperator(config: OperatorConfig, opts: StartOptions): Promise<OperatorHandle> {
  const { logger } = opts;
  const kubeConfig = shareDispatcher(opts.kubeConfig ?? loadKubeConfig(config.kubeconfig));
  const clusterId = config.clusterId ?? (await readClusterId(kubeConfig));

  const closers: Array<() => Promise<void>> = [];
  // One registry for the runtime's controller-runtime series and the domain metrics (names under confidential_agent_).
  const registry = new Registry();
  const metrics = new DomainMetrics(registry);
  const providers: ProviderSet = {};
  let localCloud: LocalCloud | undefined;
  if (config.providers.includes('local')) {
    let url = config.localCloudUrl;
    if (!url) {
      // With TNG installed (make tng) the simulated guests also run the real TNG egress in front of their workload.
      const tng = findTngBinary();
      localCloud = await startLocalCloud({ launchGuest: workloadGuestLauncher('127.0.0.1', tng ? { tng: { binary: tng } } : {}), logger: logger.child({ component: 'local-cloud' }) });
      closers.push(() => localCloud!.close());
      url = localCloud.url;
    }
    providers.local = createLocalProvider({ url });
  }
  if (config.providers.includes('alibaba')) {
    const { createAlibabaProvider } = await import('../cloud/alibaba/index.ts');
    providers.alibaba = createAlibabaProvider({
      clusterId,
      ...(config.alibabaEndpoint ? { endpoint: config.alibabaEndpoint } : {}),
      protocol: config.alibabaProtocol,
      requestsPerSecond: config.alibabaRequestsPerSecond,
      metrics,
      logger: logger.child({ component: 'alibaba' }),
    });
  }
  for (const p of Object.values(providers)) closers.push(() => p!.close());

  const manager = new Manager({
    kubeConfig,
    logger,
    registry,
    httpHost: config.httpHost,
    httpPort: config.httpPort,
    ...(config.identity ? { identity: config.identity } : {}),
    leaderElection: config.leaderElect ? { namespace: config.operatorNamespace, name: config.leaseName } : false,
  });
  const agents = manager.informer<ConfidentialAgent>(scoped(AGENTS, config.watchNamespace));
  const policies = manager.informer<AttestationPolicy>(scoped(POLICIES, config.watchNamespace));
  const credentials = manager.informer<SealedCredential>(scoped(CREDENTIALS, config.watchNamespace));
  registerStateMetrics(registry, { agents, policies, credentials });
  policies.on('delete', (p) => metrics.forgetPolicy(p.metadata.namespace ?? '', p.metadata.name));

  const services = await buildServices({ config, manager, agents, policies, credentials, logger, metrics, ...(opts.trustAnchors ? { trustAnchors: opts.trustAnchors } : {}) });
  closers.push(() => services.close());

  // The resource paths a KBS-mode guest image fetches (its manifest), from the agent's credentials.
  const credentialPaths = (agent: ConfidentialAgent): string[] =>
    agent.spec.credentials.flatMap((ref) => {
      const cred = credentials.get(agent.metadata.namespace, ref.name);
      return cred ? [cred.spec.resourcePath] : [];
    });

  const agentsReferencing = (predicate: (a: ConfidentialAgent) => boolean) => (namespace: string | undefined): ObjectKey[] =>
    agents.list(namespace).filter(predicate).map((a) => ({ namespace: a.metadata.namespace, name: a.metadata.name }));

  // The endpoint phase's owned objects (label-selected: the cache holds only gateways, not every ConfigMap).
  const gateways = {
    configMaps: manager.informer(scoped(ENDPOINT_CONFIGMAPS, config.watchNamespace)),
    deployments: manager.informer(scoped(ENDPOINT_DEPLOYMENTS, config.watchNamespace)),
    services: manager.informer(scoped(ENDPOINT_SERVICES, config.watchNamespace)),
  };
  const agentOwner = { apiVersion: `${AGENTS.group}/${AGENTS.version}`, kind: AGENTS.kind };
  // What gateways verify against: an explicit --endpoint-as-url (an AS elsewhere), else the operator's own AS
  // with the CA bundle they pin. A bundle change (CA rotation) re-renders every agent's gateway.
  const ownAs = services.attestationService;
  const endpointAs = config.endpointAsUrl || !ownAs ? { url: config.endpointAsUrl ?? defaultAsPublicUrl(config.operatorNamespace, 8082) } : { url: ownAs.url, trustBundlePem: () => ownAs.trustBundlePem() };
  const trustBundleChanges = (enqueue: (key: ObjectKey) => void) => {
    ownAs?.onTrustBundleChange(() => {
      for (const a of agents.list()) enqueue({ namespace: a.metadata.namespace, name: a.metadata.name });
    });
  };

  manager.addController({
    name: 'confidentialagent',
    for: filterUpdates(agents),
    workers: config.workers,
    watches: [
      {
        informer: credentials,
        map: (o) => agentsReferencing((a) => a.spec.credentials.some((c) => c.name === o.metadata?.name))(o.metadata?.namespace),
      },
      {
        informer: policies,
        map: (o) => agentsReferencing((a) => a.spec.attestationPolicyRef.name === o.metadata?.name)(o.metadata?.namespace),
      },
    ],
    owns: Object.values(gateways).map((informer) => ({ informer, owner: agentOwner })),
    sources: [services.kbsReleases, trustBundleChanges],
    reconcile: agentReconciler({
      agents,
      clients: manager.client,
      events: manager.events,
      phases: agentLifecycle({
        ...services.lifecycle,
        providers,
        clusterId,
        manifestOf: credentialPaths,
        ...(config.instanceRecheckSeconds !== undefined ? { instanceRecheckMs: config.instanceRecheckSeconds * 1000 } : {}),
        endpoint: { clients: manager.client, gateways, attestationService: endpointAs, ...(config.tngImage ? { tngImage: config.tngImage } : {}) },
      }),
    }),
  });
  manager.addController({
    name: 'attestationpolicy',
    for: filterUpdates(policies),
    workers: Math.max(1, Math.floor(config.workers / 2)),
    reconcile: policyReconciler({
      policies,
      clients: manager.client,
      events: manager.events,
      resolveReferenceValues: services.resolveReferenceValues,
      pccsUnreachableSince: services.pccsUnreachableSince,
      egressProblem: services.egressProblem,
    }),
  });
  manager.addController({
    name: 'sealedcredential',
    for: filterUpdates(credentials),
    workers: Math.max(1, Math.floor(config.workers / 2)),
    reconcile: credentialReconciler({ credentials, clients: manager.client, events: manager.events, checkSealed: services.checkSealed }),
  });

  const gc = startGarbageCollector({
    agents,
    readAgent: (namespace, name) => getObject<ConfidentialAgent>(manager.client.kubeConfig, AGENTS, namespace, name),
    providers,
    clusterId,
    logger: logger.child({ component: 'garbage-collector' }),
    isLeader: () => manager.isLeader(),
    intervalMs: config.gcIntervalSeconds * 1000,
    minAgeMs: config.gcMinAgeSeconds * 1000,
    ...(config.watchNamespace ? { namespace: config.watchNamespace } : {}),
  });

  await manager.start();
  logger.info({ clusterId, providers: Object.keys(providers), namespace: config.watchNamespace ?? '*' }, 'operator started');
  return {
    manager,
    metrics,
    clusterId,
    providers,
    ...(localCloud ? { localCloud } : {}),
    sweepOrphans: () => gc.sweep(),
    async stop() {
      gc.stop();
      await manager.stop();
      for (const close of closers.reverse()) await close().catch((err: unknown) => logger.warn({ err: String(err) }, 'close failed'));
    },
  };
}

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

/** The cluster's identity for ownership tags: the UID of kube-system, stable for the cluster's life. */
async function readClusterId(kc: KubeConfig): Promise<string> {
  const ns = await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'kube-system' });
  if (!ns.metadata?.uid) throw new Error('kube-system namespace has no UID; pass --cluster-id');
  return ns.metadata.uid;
}
