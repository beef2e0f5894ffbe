// Reference values in force for one appraisal: resolved ones (Rekor/bundle, from the AttestationPolicy
// status) plus the policy's inline development values, keyed by measurement name, lower-case hex.
import type { AttestationPolicySpec } from '../../api/attestation-policy.ts';

export interface ReferenceValue {
  name: string;
  digest: string;
}

export const RV_NAMES = {
  mrTd: 'mr_td',
  rtmr: ['rtmr0', 'rtmr1', 'rtmr2', 'rtmr3'],
  uki: 'measurement.uki.SHA-384',
  launchDigest: 'launch_digest',
} as const;

export type ReferenceSet = Map<string, Set<string>>;

export function referenceSet(policy: AttestationPolicySpec, resolved: ReferenceValue[]): ReferenceSet {
  const set: ReferenceSet = new Map();
  const add = (name: string, digest: string) => {
    const s = set.get(name) ?? new Set<string>();
    s.add(digest.toLowerCase());
    set.set(name, s);
  };
  for (const rv of resolved) add(rv.name, rv.digest);
  const inline = policy.tdx?.referenceValues?.inline;
  if (inline) {
    for (const d of inline.mrtd ?? []) add(RV_NAMES.mrTd, d);
    for (const d of inline.ukiSha384 ?? []) add(RV_NAMES.uki, d);
    for (const [i, list] of [inline.rtmr0, inline.rtmr1, inline.rtmr2, inline.rtmr3].entries()) {
      for (const d of list ?? []) add(RV_NAMES.rtmr[i]!, d);
    }
  }
  return set;
}
