// AR4SI trustworthiness vector (as the `ear` crate models it): eight claims, each an i8 whose absolute value
// falls in a tier: -1..1 none, 2..31 affirming, 32..95 warning, 96..127 contraindicated. The status of a
// vector is its worst tier; `none` never releases anything.
export const TRUST_CLAIMS = [
  'instance-identity',
  'configuration',
  'executables',
  'file-system',
  'hardware',
  'runtime-opaque',
  'storage-opaque',
  'sourced-data',
] as const;
export type TrustClaim = (typeof TRUST_CLAIMS)[number];
export type TrustVector = Record<TrustClaim, number>;
export type EarStatus = 'none' | 'affirming' | 'warning' | 'contraindicated';

/** Canonical AR4SI values used by the appraisal rules (names follow the `ear` crate). */
export const TV = {
  NO_CLAIM: 0,
  // hardware
  GENUINE: 2,
  UNSAFE_HW: 32,
  CONTRAINDICATED_HW: 96,
  UNRECOGNIZED_HW: 97,
  // executables
  APPROVED_BOOT: 3,
  UNRECOGNIZED_RUNTIME: 33,
  CONTRAINDICATED_EXEC: 96,
  // configuration
  APPROVED_CONFIG: 2,
  NO_CONFIG_VULNS: 3,
  UNAVAILABLE_CONFIG: 36,
  UNSUPPORTABLE_CONFIG: 96,
  // runtime-opaque
  ENCRYPTED_MEMORY: 2,
} as const;

const RANK: Record<EarStatus, number> = { none: 0, affirming: 1, warning: 2, contraindicated: 3 };

export function tierOf(value: number): EarStatus {
  const v = Math.abs(value);
  if (v <= 1) return 'none';
  if (v <= 31) return 'affirming';
  if (v <= 95) return 'warning';
  return 'contraindicated';
}

export function worst(a: EarStatus, b: EarStatus): EarStatus {
  return RANK[a] >= RANK[b] ? a : b;
}

export function statusOf(vector: TrustVector): EarStatus {
  return TRUST_CLAIMS.reduce<EarStatus>((s, c) => worst(s, tierOf(vector[c])), 'none');
}

export function emptyVector(): TrustVector {
  return Object.fromEntries(TRUST_CLAIMS.map((c) => [c, TV.NO_CLAIM])) as TrustVector;
}

/** Release gate: `affirming` always passes; `warning` passes only when the policy's minimumStatus is warning. */
export function releaseAllowed(status: EarStatus, minimumStatus: 'affirming' | 'warning'): boolean {
  if (status === 'affirming') return true;
  return status === 'warning' && minimumStatus === 'warning';
}
