// The operator-level egress allow-list applied to tenant-supplied URLs: an AttestationPolicy may only make
// the operator talk to a reference-value log under --allowed-rekor-urls, a PCCS under --allowed-pccs-urls,
// an NVIDIA RIM service under --allowed-rim-urls and an OCSP responder under --allowed-ocsp-urls.
// A policy naming anything else is refused with a condition naming the field and the prefix rule, and no
// request is made (checked before resolution, and again where the clients are created).
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import { checkUrlAllowed, describeUrl, parseUrlPrefixes, type UrlPrefix } from '../net/egress.ts';
import { DEFAULT_ALLOWED_OCSP_URLS, DEFAULT_ALLOWED_RIM_URLS, type OperatorConfig } from './config.ts';

export interface EgressProblem {
  code: 'LogUrlNotAllowed' | 'PccsUrlNotAllowed' | 'RimUrlNotAllowed' | 'OcspUrlNotAllowed';
  message: string;
}

export interface EgressPolicy {
  /** The first tenant URL of the policy that is off the allow-list, or undefined. */
  policyProblem(policy: AttestationPolicy): EgressProblem | undefined;
  rekorUrl(url: string): EgressProblem | undefined;
  pccsUrl(url: string): EgressProblem | undefined;
  rimUrl(url: string): EgressProblem | undefined;
  ocspUrl(url: string): EgressProblem | undefined;
}

/** The lists; RIM and OCSP default to NVIDIA's public endpoints when a caller predates them. */
export type EgressConfig = Pick<OperatorConfig, 'allowedRekorUrls' | 'allowedPccsUrls'> & Partial<Pick<OperatorConfig, 'allowedRimUrls' | 'allowedOcspUrls'>>;

function check(url: string, prefixes: readonly UrlPrefix[], field: string, flag: string, code: EgressProblem['code']): EgressProblem | undefined {
  const verdict = checkUrlAllowed(url, prefixes);
  if (verdict.ok) return undefined;
  return { code, message: `${field} '${describeUrl(url)}' ${verdict.why}; the operator only contacts URLs its administrator allowed with ${flag}` };
}

export function egressPolicy(config: EgressConfig): EgressPolicy {
  const rekor = parseUrlPrefixes(config.allowedRekorUrls, '--allowed-rekor-urls');
  const pccs = parseUrlPrefixes(config.allowedPccsUrls, '--allowed-pccs-urls');
  const rim = parseUrlPrefixes(config.allowedRimUrls ?? DEFAULT_ALLOWED_RIM_URLS, '--allowed-rim-urls');
  const ocsp = parseUrlPrefixes(config.allowedOcspUrls ?? DEFAULT_ALLOWED_OCSP_URLS, '--allowed-ocsp-urls');
  const rekorUrl = (url: string) => check(url, rekor, 'spec.tdx.referenceValues.rekor.url', '--allowed-rekor-urls', 'LogUrlNotAllowed');
  const pccsUrl = (url: string) => check(url, pccs, 'spec.tdx.pccsUrl', '--allowed-pccs-urls', 'PccsUrlNotAllowed');
  const rimUrl = (url: string) => check(url, rim, 'spec.gpu.rimServiceUrl', '--allowed-rim-urls', 'RimUrlNotAllowed');
  const ocspUrl = (url: string) => check(url, ocsp, 'spec.gpu.ocspUrl', '--allowed-ocsp-urls', 'OcspUrlNotAllowed');
  return {
    rekorUrl,
    pccsUrl,
    rimUrl,
    ocspUrl,
    policyProblem: (policy) => {
      const { tdx, gpu } = policy.spec;
      const log = tdx?.referenceValues?.rekor?.url;
      return (
        (log !== undefined ? rekorUrl(log) : undefined) ??
        (tdx?.pccsUrl !== undefined ? pccsUrl(tdx.pccsUrl) : undefined) ??
        // Offline RIMs (rimConfigMapRef) never touch the RIM service; OCSP Skip sends nothing.
        (gpu?.rimServiceUrl !== undefined && !gpu.rimConfigMapRef ? rimUrl(gpu.rimServiceUrl) : undefined) ??
        (gpu?.ocspUrl !== undefined && gpu.ocsp !== 'Skip' ? ocspUrl(gpu.ocspUrl) : undefined)
      );
    },
  };
}
