// Hardware verifiers registered next to the sample ones: Intel TDX (DCAP with PCCS collateral) and
// NVIDIA GPUs (SPDM reports against RIMs, OCSP). Trust anchors are pinned inside each verifier;
// collateral, RIMs and OCSP answers come from caching clients. Both stacks load on first use.
import type { KubernetesObject } from '@kubernetes/client-node';
import { lazyVerifier } from '../attestation/lazy-verifier.ts';
import type { VerificationObserver } from '../attestation/registry.ts';
import type { CollateralKind } from '../attestation/tdx/index.ts';
import type { OcspClient } from '../attestation/nvidia/ocsp-client.ts';
import type { RimSource } from '../attestation/nvidia/rim-source.ts';
import type { Verifier } from '../attestation/verifier.ts';
import { CONFIGMAPS, scoped } from '../controllers/resources.ts';
import type { MetricsRecorder } from '../metrics/forward.ts';
import { DEFAULT_ALLOWED_PCCS_URLS, DEFAULT_ALLOWED_REKOR_URLS } from './config.ts';
import { egressPolicy } from './egress-policy.ts';
import type { ServiceDeps } from './services.ts';

interface ConfigMapObject extends KubernetesObject {
  data?: Record<string, string>;
}

/**
 * Roots that replace the pinned Intel SGX root and NVIDIA device/RIM roots. Only the programmatic StartOptions
 * set them (end-to-end tests with a private PKI re-signing real evidence); there is deliberately no flag.
 */
export interface TrustAnchors {
  intelRootCaPem?: string;
  nvidiaDeviceRootPem?: string;
  nvidiaRimRootPem?: string;
}

export interface HardwareVerifiers {
  verifiers: Verifier[];
  /** When the PCCS at this URL started failing (verification then runs on cached, unexpired collateral). */
  pccsUnreachableSince(pccsUrl: string): Date | undefined;
}

export function hardwareVerifiers(deps: ServiceDeps): HardwareVerifiers {
  // Offline RIMs live in ConfigMaps in the operator namespace (policy.gpu.rimConfigMapRef).
  const configMaps = deps.manager.informer<ConfigMapObject>(scoped(CONFIGMAPS, deps.config.operatorNamespace));
  return hardwareVerifiersWith({
    ...(deps.config.nvidiaRimDir ? { nvidiaRimDir: deps.config.nvidiaRimDir } : {}),
    configMap: (name) => {
      const cm = configMaps.get(deps.config.operatorNamespace, name);
      return cm ? (cm.data ?? {}) : undefined;
    },
    ...(deps.trustAnchors ? { trustAnchors: deps.trustAnchors } : {}),
    egress: egressListsOf(deps.config),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
}

/** The same verifiers without a Manager (the KBS worker gets RIM ConfigMaps from snapshots). */
/** The operator's egress allow-lists (plain arrays, so they cross into the KBS worker). */
export interface EgressLists {
  allowedRekorUrls: string[];
  allowedPccsUrls: string[];
  allowedRimUrls?: string[];
  allowedOcspUrls?: string[];
}

export function egressListsOf(config: EgressLists): EgressLists {
  return {
    allowedRekorUrls: config.allowedRekorUrls,
    allowedPccsUrls: config.allowedPccsUrls,
    ...(config.allowedRimUrls ? { allowedRimUrls: config.allowedRimUrls } : {}),
    ...(config.allowedOcspUrls ? { allowedOcspUrls: config.allowedOcspUrls } : {}),
  };
}

export function hardwareVerifiersWith(deps: {
  nvidiaRimDir?: string;
  configMap(name: string): Record<string, string> | undefined;
  trustAnchors?: TrustAnchors;
  egress?: EgressLists;
  /** Trust-material health (collateral nextUpdate, PCCS reachability, RIM/OCSP cache expiry). */
  metrics?: MetricsRecorder;
}): HardwareVerifiers {
  const anchors = deps.trustAnchors ?? {};
  const metrics = deps.metrics;
  let collateralFor: ((pccsUrl: string) => { unreachableSince(): Date | undefined }) | undefined;
  const egress = egressPolicy(deps.egress ?? { allowedRekorUrls: DEFAULT_ALLOWED_REKOR_URLS, allowedPccsUrls: DEFAULT_ALLOWED_PCCS_URLS });
  const tdx = lazyVerifier('tdx', async () => {
    const { createPccsCollateralSources, createTdxMemo, createTdxVerifier, TdxError } = await import('../attestation/tdx/index.ts');
    const root = anchors.intelRootCaPem ? { rootCaPem: anchors.intelRootCaPem } : {};
    const observer = metrics && {
      fetched(fmspc: string, nextUpdates: Array<{ kind: CollateralKind; at: Date }>, at: Date) {
        for (const n of nextUpdates) metrics.collateral(fmspc, n.kind, n.at);
        metrics.pccsFetched(at);
      },
      servingStale: (stale: boolean) => metrics.servingStale(stale),
    };
    const sources = createPccsCollateralSources({ now: Date.now, ...root, ...(observer ? { observer } : {}) });
    collateralFor = sources;
    // A PCCS off the allow-list is never contacted, whichever path asks for its collateral.
    const allowed = (pccsUrl: string) => {
      const refused = egress.pccsUrl(pccsUrl);
      if (refused) throw new TdxError('CollateralUnavailable', refused.message);
      return sources(pccsUrl);
    };
    return createTdxVerifier({ collateralFor: allowed, memo: createTdxMemo(), ...(anchors.intelRootCaPem ? { intelRootCaPem: anchors.intelRootCaPem } : {}) });
  });
  const nvidia = lazyVerifier('nvidia', async () => {
    const { createNvidiaVerifier, DEFAULT_OCSP_URL, DEFAULT_RIM_SERVICE_URL, DirectoryRimSource, HttpOcspClient, HttpRimSource, NvidiaError, PolicyRimSource, VerificationCache } = await import(
      '../attestation/nvidia/index.ts'
    );
    // A RIM service or OCSP responder off the allow-list is never contacted, whichever path asks.
    const httpRims = new HttpRimSource({});
    const allowedRims: RimSource = {
      getRim: (rimId, context) => {
        const refused = egress.rimUrl(context?.serviceUrl ?? DEFAULT_RIM_SERVICE_URL);
        if (refused) return Promise.reject(new NvidiaError('RimUrlNotAllowed', refused.message));
        return httpRims.getRim(rimId, context);
      },
    };
    const httpOcsp = new HttpOcspClient(metrics ? { observer: { ocspCacheValidUntil: (d) => metrics.rimCertExpiry('ocsp', d) } } : {});
    const allowedOcsp: OcspClient = {
      check: (query) => {
        const refused = egress.ocspUrl(query.url ?? DEFAULT_OCSP_URL);
        if (refused) return Promise.reject(new NvidiaError('OcspUrlNotAllowed', refused.message));
        return httpOcsp.check(query);
      },
    };
    return createNvidiaVerifier({
      rims: new PolicyRimSource({
        // A RIM directory (mounted volume) replaces the RIM service entirely: nothing is fetched.
        http: deps.nvidiaRimDir ? new DirectoryRimSource(deps.nvidiaRimDir) : allowedRims,
        configMaps: (name) => {
          const data = deps.configMap(name);
          return data ? new Map(Object.entries(data)) : undefined;
        },
      }),
      ocsp: allowedOcsp,
      cache: new VerificationCache(512, metrics && { rimSigningExpiry: (d) => metrics.rimCertExpiry('rim_signing', d) }),
      ...(anchors.nvidiaDeviceRootPem || anchors.nvidiaRimRootPem
        ? { roots: { ...(anchors.nvidiaDeviceRootPem ? { deviceRootPem: anchors.nvidiaDeviceRootPem } : {}), ...(anchors.nvidiaRimRootPem ? { rimRootPem: anchors.nvidiaRimRootPem } : {}) } }
        : {}),
    });
  });
  // Before the first TDX attestation nothing has been fetched, so nothing can have failed.
  return { verifiers: [tdx, nvidia], pccsUnreachableSince: (url) => (egress.pccsUrl(url) ? undefined : collateralFor?.(url).unreachableSince()) };
}

/** The registry's observer feeding the verification-duration histogram (per verifier). */
export function verificationObserver(metrics: MetricsRecorder | undefined): VerificationObserver | undefined {
  return metrics && { verified: (tee, seconds) => metrics.verification(tee, seconds) };
}
