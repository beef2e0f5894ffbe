// Development-only settings of an AttestationPolicy: what makes evidence without a hardware root of trust
// acceptable. The policy controller reports them (DevelopmentOnly condition, SampleTeeAllowed) and the
// shipped production policies are tested to contain none of them.
import type { AttestationPolicySpec } from '../../api/attestation-policy.ts';

export interface DevelopmentSetting {
  /** The spec field, e.g. `spec.sample.trustAsAffirming`. */
  field: string;
  why: string;
}

export function developmentSettings(spec: AttestationPolicySpec): DevelopmentSetting[] {
  const out: DevelopmentSetting[] = [];
  if (spec.allowSampleTee) out.push({ field: 'spec.allowSampleTee', why: 'accepts sample evidence, which has no hardware signature' });
  if (spec.sample?.trustAsAffirming) out.push({ field: 'spec.sample.trustAsAffirming', why: 'appraises unsigned sample evidence as affirming' });
  if (spec.tdx?.referenceValues?.inline) out.push({ field: 'spec.tdx.referenceValues.inline', why: 'reference values are not signed or logged' });
  return out;
}

/** The settings that make a policy `DevelopmentOnly`: appraising evidence as affirming that proves nothing. */
export function trustsSampleAsAffirming(spec: AttestationPolicySpec): boolean {
  return spec.allowSampleTee && spec.sample?.trustAsAffirming === true;
}
