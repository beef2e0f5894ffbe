// Enumerations shared by the API schemas and the verifiers. They live in api/ so the API never imports
// a verifier (attestation/ imports these, not the other way round).

/** Intel TDX TCB levels, as Intel's TCB Info reports them (also the policy's accepted-status list). */
export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];

/** EAR (RATS) appraisal status values recorded in agent status. */
export const EAR_STATUSES = ['affirming', 'warning', 'contraindicated'] as const;
export type EarStatusName = (typeof EAR_STATUSES)[number];

/** How credentials reach the guest. */
export const DELIVERY_MODES = ['Challenge', 'KBS'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

/** Instance providers. */
export const PROVIDER_NAMES = ['local', 'alibaba'] as const;
