// Hardware verifiers registered next to the sample ones: Intel TDX (DCAP with PCCS collateral) and
// NVIDIA GPUs (SPDM reports against RIMs, OCSP). Trust anchors are pinned inside each verifier;
// collateral, RIMs and OCSP answers come from caching clients.
import type { KubernetesObject } from '@kubernetes/client-node';
import { createNvidiaVerifier, HttpOcspClient, HttpRimSource, PolicyRimSource, VerificationCache } from '../attestation/nvidia/index.ts';
import { createPccsCollateralSources, createTdxMemo, createTdxVerifier } from '../attestation/tdx/index.ts';
import type { Verifier } from '../attestation/verifier.ts';
import { CONFIGMAPS, scoped } from '../controllers/resources.ts';
import type { SharedInformer } from '../runtime/manager.ts';
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
  const collateralFor = createPccsCollateralSources({ now: Date.now });
  const tdx = createTdxVerifier({ collateralFor, memo: createTdxMemo() });
  // Offline RIMs live in ConfigMaps in the operator namespace (policy.gpu.rimConfigMapRef).
  const configMaps = deps.manager.informer<ConfigMapObject>(scoped(CONFIGMAPS, deps.config.operatorNamespace)) as unknown as SharedInformer<ConfigMapObject>;
  const nvidia = createNvidiaVerifier({
    rims: new PolicyRimSource({
      http: new HttpRimSource({}),
      configMaps: (name) => {
        const cm = configMaps.get(deps.config.operatorNamespace, name);
        return cm ? new Map(Object.entries(cm.data ?? {})) : undefined;
      },
    }),
    ocsp: new HttpOcspClient({}),
    cache: new VerificationCache(),
  });
  return { verifiers: [tdx, nvidia], pccsUnreachableSince: (url) => collateralFor(url).unreachableSince() };
}
