// Domain services the reconcilers call: reference-value resolution, sealed-credential checks, and the
// attest and release phases' dependencies (challenge push, and the KBS for pull). Built once per operator.
import type { Logger } from 'pino';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { SealedCredential } from '../api/sealed-credential.ts';
import type { RekorClient } from '../attestation/refvalues/index.ts';
import { defaultVerifierRegistry } from '../attestation/registry.ts';
import type { LifecycleDeps } from '../controllers/agent/lifecycle.ts';
import type { ReferenceValueResolver } from '../controllers/attestation-policy.ts';
import type { SealCheck } from '../controllers/sealed-credential.ts';
import { SealingKeyStore } from '../release/sealing/store.ts';
import { checkSealedCredential } from '../release/sealing/status.ts';
import type { EventSource, Manager, SharedInformer } from '../runtime/manager.ts';
import { keyFromString } from '../runtime/types.ts';
import type { OperatorConfig } from './config.ts';
import { loadOrCreateEarSigner } from './ear-key.ts';
import { liveKeyring } from './sealing-keyring.ts';
import { liveSessionKeys, loadOrCreateSessionKeys } from './kbs-session-keys.ts';
import { externalKbs, kbsTlsMode, startKbsService } from './kbs-service.ts';
import { receiptWriter } from './kbs-receipts.ts';
import { defaultAsPublicUrl, startAsService, type AsService } from './as-service.ts';
import { CONFIGMAPS, POLICIES, scoped } from '../controllers/resources.ts';
import { getObject } from '../runtime/rest.ts';
import { egressPolicy } from './egress-policy.ts';
import { egressListsOf, hardwareVerifiers, verificationObserver, type TrustAnchors } from './verifiers.ts';
import type { DomainMetrics } from '../metrics/domain.ts';

export interface Services {
  resolveReferenceValues: ReferenceValueResolver;
  checkSealed: (credential: SealedCredential) => Promise<SealCheck>;
  /** What the attest and release phases need (the provision phase's deps come from the providers). */
  lifecycle: Omit<LifecycleDeps, 'providers' | 'clusterId' | 'manifestOf'>;
  /** Re-queues an agent when the KBS released something to it (the delivery is recorded by the release phase). */
  kbsReleases: EventSource;
  pccsUnreachableSince(pccsUrl: string): Date | undefined;
  /** A tenant URL of the policy that is off the operator's egress allow-list. */
  egressProblem: (policy: AttestationPolicy) => { code: string; message: string } | undefined;
  /** The attestation service TNG gateways verify against (undefined with --attestation-service=false). */
  attestationService?: AsService;
  close(): Promise<void>;
}

export interface ServiceDeps {
  config: OperatorConfig;
  manager: Manager;
  agents: SharedInformer<ConfidentialAgent>;
  policies: SharedInformer<AttestationPolicy>;
  credentials: SharedInformer<SealedCredential>;
  logger: Logger;
  /** Replacement roots for tests with a private PKI (see TrustAnchors). */
  trustAnchors?: TrustAnchors;
  /** The operator's domain metrics (absent in tools that build services without a registry). */
  metrics?: DomainMetrics;
}

/** Reference values via attestation/refvalues: inline, a Rekor log (one client per log URL), or a bundle in a ConfigMap. */
export function referenceValueResolver(deps: ServiceDeps): ReferenceValueResolver {
  const rekorClients = new Map<string, RekorClient>();
  const egress = egressPolicy(deps.config);
  return async (policy, previous, at) => {
    const source = policy.spec.tdx?.referenceValues;
    if (!source) return { ok: true, values: [] };
    // The Sigstore stack loads when the first policy with reference values needs it.
    const { RekorClient, RefValuesError, resolveReferenceValues } = await import('../attestation/refvalues/index.ts');
    const namespace = policy.metadata.namespace ?? '';
    const readData = async (name: string): Promise<Record<string, string> | undefined> => {
      try {
        return (await deps.manager.client.core.readNamespacedConfigMap({ name, namespace })).data ?? {};
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      }
    };
    const resolved = await resolveReferenceValues(
      source,
      {
        rekorClient: (url) => {
          // Also checked by the policy reconciler before resolving; here so no path can skip it.
          const refused = egress.rekorUrl(url);
          if (refused) throw new RefValuesError('LogUrlNotAllowed', refused.message);
          if (!rekorClients.has(url)) rekorClients.set(url, new RekorClient({ url }));
          return rekorClients.get(url)!;
        },
        readConfigMap: async (name, key) => (await readData(name))?.[key],
        readConfigMapData: readData,
      },
      previous,
      at,
    );
    // A verified checkpoint means the consistency proof held; LogInconsistent means it did not.
    if (resolved.ok && resolved.checkpoint) deps.metrics?.logChecked(namespace, policy.metadata.name, at, true);
    else if (!resolved.ok && resolved.reason === 'LogInconsistent') deps.metrics?.logChecked(namespace, policy.metadata.name, at, false);
    return resolved.ok ? resolved : { ok: false, code: resolved.reason, message: resolved.message };
  };
}

export async function buildServices(deps: ServiceDeps): Promise<Services> {
  const { config, manager, logger } = deps;
  const core = manager.client.core;
  await ensureNamespace(deps);
  // Sealing keyring and EAR key live in the operator namespace (see docs/trust-model.md).
  const metrics = deps.metrics;
  const keyring = liveKeyring(manager, config.operatorNamespace, await new SealingKeyStore().loadOrCreate(core, config.operatorNamespace), logger, (k) =>
    metrics?.sealingKeyring(k.keys.length, new Date(k.active.createdAt)),
  );
  const signer = await loadOrCreateEarSigner(core, config.operatorNamespace, (created) => metrics?.earKey(created));
  const hardware = hardwareVerifiers(deps);
  const registry = defaultVerifierRegistry(hardware.verifiers, verificationObserver(metrics));
  const kbs = config.kbsEmbedded
    ? await startKbsService({
        agents: deps.agents,
        policies: deps.policies,
        credentials: deps.credentials,
        configMaps: manager.informer(scoped(CONFIGMAPS, config.operatorNamespace)),
        keyring,
        sessionKeys: liveSessionKeys(manager, config.operatorNamespace, await loadOrCreateSessionKeys(core, config.operatorNamespace), logger),
        signer,
        host: config.kbsHost,
        port: config.kbsPort,
        ...(config.kbsPublicUrl ? { publicUrl: config.kbsPublicUrl } : {}),
        tls: kbsTlsMode(config.kbsTls, config),
        ...(deps.trustAnchors ? { trustAnchors: deps.trustAnchors } : {}),
        egress: egressListsOf(config),
        ...(config.nvidiaRimDir ? { nvidiaRimDir: config.nvidiaRimDir } : {}),
        events: manager.events,
        logger: logger.child({ component: 'kbs' }),
        ...(metrics ? { metrics } : {}),
        receipts: receiptWriter({ clients: manager.client, signer, agents: deps.agents, logger: logger.child({ component: 'kbs-receipts' }) }),
      })
    : await externalKbs(config, { agents: deps.agents, trusted: [signer.publicJwk] });
  const as = config.attestationService
    ? await startAsService({
        agents: deps.agents,
        policies: deps.policies,
        configMaps: manager.informer(scoped(CONFIGMAPS, config.operatorNamespace)),
        core,
        operatorNamespace: config.operatorNamespace,
        host: config.attestationService.host,
        port: config.attestationService.port,
        publicUrl: config.attestationService.publicUrl ?? defaultAsPublicUrl(config.operatorNamespace, config.attestationService.port),
        tlsHosts: config.attestationService.tlsHosts,
        ...(deps.trustAnchors ? { trustAnchors: deps.trustAnchors } : {}),
        egress: { allowedRekorUrls: config.allowedRekorUrls, allowedPccsUrls: config.allowedPccsUrls },
        ...(config.nvidiaRimDir ? { nvidiaRimDir: config.nvidiaRimDir } : {}),
        events: manager.events,
        ...(metrics ? { metrics } : {}),
        logger: logger.child({ component: 'attestation-service' }),
      })
    : undefined;
  logger.info({ kbs: kbs.url, attestationService: as?.url, sealingKey: keyring().activeKeyId }, 'release services ready');
  return {
    resolveReferenceValues: referenceValueResolver(deps),
    checkSealed: async (cred) => {
      const r = checkSealedCredential(cred, keyring());
      return r.ok ? { ok: true, sealingKeyId: r.sealingKeyId, digest: r.digest } : { ok: false, code: r.code, message: r.message, digest: r.digest };
    },
    lifecycle: {
      // spec.sandboxPolicy ConfigMaps: a GET in the agent's namespace (rbac.yaml: configmaps get).
      configMaps: deps.manager.client.core,
      policies: deps.policies,
      readPolicy: policyReader(deps.manager),
      credentials: deps.credentials,
      keyring,
      registry,
      signer,
      kbs: kbs.deliveries,
      // A guest that is not up yet should not hold a worker: a few quick tries, then the work queue
      // retries the reconcile (30 s later).
      injectRetry: { attempts: 3, baseDelayMs: 300, maxDelayMs: 2_000 },
      ...(metrics ? { metrics } : {}),
    },
    kbsReleases: (enqueue) => kbs.onRelease((agentKey) => enqueue(keyFromString(agentKey))),
    pccsUnreachableSince: hardware.pccsUnreachableSince,
    egressProblem: egressPolicy(config).policyProblem,
    ...(as ? { attestationService: as } : {}),
    close: async () => {
      await kbs.server.close();
      await as?.close();
    },
  };
}

/** The agent's policy as the API server has it now (a quorum GET; undefined when it does not exist). */
function policyReader(manager: Manager): (namespace: string, name: string) => Promise<AttestationPolicy | undefined> {
  return (namespace, name) => getObject<AttestationPolicy>(manager.client.kubeConfig, POLICIES, namespace, name);
}

async function ensureNamespace(deps: ServiceDeps): Promise<void> {
  try {
    await deps.manager.client.core.createNamespace({ body: { metadata: { name: deps.config.operatorNamespace } } });
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code !== 409 && code !== 403) throw err; // exists, or we may not create namespaces (then it must exist)
  }
}
