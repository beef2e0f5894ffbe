// The operator-level egress allow-list applied to tenant-supplied URLs: an AttestationPolicy may only make
// the operator talk to a reference-value log under --allowed-rekor-urls and a PCCS under --allowed-pccs-urls.
// A policy naming anything else is refused with a condition naming the field and the prefix rule, and no
// request is made (checked before resolution, and again where the clients are created).
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import { checkUrlAllowed, describeUrl, parseUrlPrefixes, type UrlPrefix } from '../net/egress.ts';
import type { OperatorConfig } from './config.ts';

export interface EgressProblem {
  code: 'LogUrlNotAllowed' | 'PccsUrlNotAllowed';
  message: string;
}

export interface EgressPolicy {
  /** The first tenant URL of the policy that is off the allow-list, or undefined. */
  policyProblem(policy: AttestationPolicy): EgressProblem | undefined;
  rekorUrl(url: string): EgressProblem | undefined;
  pccsUrl(url: string): EgressProblem | undefined;
}

function check(url: string, prefixes: readonly UrlPrefix[], field: string, flag: string, code: EgressProblem['code']): EgressProblem | undefined {
  const verdict = checkUrlAllowed(url, prefixes);
  if (verdict.ok) return undefined;
  return { code, message: `${field} '${describeUrl(url)}' ${verdict.why}; the operator only contacts URLs its administrator allowed with ${flag}` };
}

export function egressPolicy(config: Pick<OperatorConfig, 'allowedRekorUrls' | 'allowedPccsUrls'>): EgressPolicy {
  const rekor = parseUrlPrefixes(config.allowedRekorUrls, '--allowed-rekor-urls');
  const pccs = parseUrlPrefixes(config.allowedPccsUrls, '--allowed-pccs-urls');
  const rekorUrl = (url: string) => check(url, rekor, 'spec.tdx.referenceValues.rekor.url', '--allowed-rekor-urls', 'LogUrlNotAllowed');
  const pccsUrl = (url: string) => check(url, pccs, 'spec.tdx.pccsUrl', '--allowed-pccs-urls', 'PccsUrlNotAllowed');
  return {
    rekorUrl,
    pccsUrl,
    policyProblem: (policy) => {
      const tdx = policy.spec.tdx;
      if (!tdx) return undefined;
      const log = tdx.referenceValues?.rekor?.url;
      return (log !== undefined ? rekorUrl(log) : undefined) ?? (tdx.pccsUrl !== undefined ? pccsUrl(tdx.pccsUrl) : undefined);
    },
  };
}
