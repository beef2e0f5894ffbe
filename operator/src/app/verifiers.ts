// Hardware verifiers registered next to the sample ones: Intel TDX (DCAP with PCCS collateral) and
// NVIDIA GPUs (SPDM reports against RIMs, OCSP). Trust anchors are pinned inside each verifier;
// collateral, RIMs and OCSP answers come from caching clients. Both stacks load on first use.
import type { KubernetesObject } from '@kubernetes/client-node';
import { lazyVerifier } from '../attestation/lazy-verifier.ts';
import type { Verifier } from '../attestation/verifier.ts';
import { CONFIGMAPS, scoped } from '../controllers/resources.ts';
import { egressPolicy } from './egress-policy.ts';
import type { ServiceDeps } from './services.ts';

interface ConfigMapObject extends KubernetesObject {
  data?: Record<string, string>;
}

export interface HardwareVerifiers {
  verifiers: Verifier[];
  /** When the PCCS at this URL started failing (verification then runs on cached, unexpired collateral). */
  pccsUnreachableSince(pccsUrl: string): Date | undefined;
}

export function hardwareVerifiers(deps: ServiceDeps): HardwareVerifiers {
  let collateralFor: ((pccsUrl: string) => { unreachableSince(): Date | undefined }) | undefined;
  const egress = egressPolicy(deps.config);
  const tdx = lazyVerifier('tdx', async () => {
    const { createPccsCollateralSources, createTdxMemo, createTdxVerifier, TdxError } = await import('../attestation/tdx/index.ts');
    const sources = createPccsCollateralSources({ now: Date.now });
    collateralFor = sources;
    // A PCCS off the allow-list is never contacted, whichever path asks for its collateral.
    const allowed = (pccsUrl: string) => {
      const refused = egress.pccsUrl(pccsUrl);
      if (refused) throw new TdxError('CollateralUnavailable', refused.message);
      return sources(pccsUrl);
    };
    return createTdxVerifier({ collateralFor: allowed, memo: createTdxMemo() });
  });
  // Offline RIMs live in ConfigMaps in the operator namespace (policy.gpu.rimConfigMapRef).
  const configMaps = deps.manager.informer<ConfigMapObject>(scoped(CONFIGMAPS, deps.config.operatorNamespace));
  const nvidia = lazyVerifier('nvidia', async () => {
    const { createNvidiaVerifier, DirectoryRimSource, HttpOcspClient, HttpRimSource, PolicyRimSource, VerificationCache } = await import('../attestation/nvidia/index.ts');
    return createNvidiaVerifier({
      rims: new PolicyRimSource({
        // A RIM directory (mounted volume) replaces the RIM service entirely: nothing is fetched.
        http: deps.config.nvidiaRimDir ? new DirectoryRimSource(deps.config.nvidiaRimDir) : new HttpRimSource({}),
        configMaps: (name) => {
          const cm = configMaps.get(deps.config.operatorNamespace, name);
          return cm ? new Map(Object.entries(cm.data ?? {})) : undefined;
        },
      }),
      ocsp: new HttpOcspClient({}),
      cache: new VerificationCache(),
    });
  });
  // Before the first TDX attestation nothing has been fetched, so nothing can have failed.
  return { verifiers: [tdx, nvidia], pccsUnreachableSince: (url) => (egress.pccsUrl(url) ? undefined : collateralFor?.(url).unreachableSince()) };
}
