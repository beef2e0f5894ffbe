// The Verifier contract: one implementation per TEE type. Verification is pure with respect to the
// network: trust material (collateral, RIMs, roots) arrives through injected sources whose fetching
// and caching live in separate clients, and the time is passed in.
import type { AttestationPolicySpec } from '../api/attestation-policy.ts';
import type { NvidiaErrorCode } from './nvidia/errors.ts';
import type { TdxErrorCode } from './tdx/errors.ts';

/** KBS `Tee` strings for the evidence types the operator understands. */
export type TeeType = 'sample' | 'sampledevice' | 'tdx' | 'nvidia';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface EvidenceToVerify {
  /** The evidence value as received: KBS `primary_evidence`, or one entry of the additional evidence map. */
  evidence: JsonValue;
  /**
   * The SHA-384 digest (48 bytes) of the JCS-canonical runtime data, as KBS 0.4.0 defines it. Each verifier
   * applies its own TEE's comparison rule (TDX: zero-padded to 64 bytes; NVIDIA: first 32 bytes are the
   * SPDM nonce; sample: exact match of the base64-decoded report_data).
   */
  expectedReportData: Uint8Array;
  /** Verification time (injected clock). */
  at: Date;
  /** The policy in force; verifiers read only their own section (tdx, gpu, allowSampleTee). */
  policy: AttestationPolicySpec;
  /** Base64 init-data digest when the guest sent init-data (TDX binds it to MRCONFIGID). */
  initDataDigest?: Uint8Array;
}

/** Codes of the sample verifier and of the registry itself (dispatch, composite checks). */
export type CommonVerificationCode =
  | 'MalformedEvidence'
  | 'ReportDataMismatch'
  | 'UnsupportedTee'
  | 'SampleTeeNotAllowed'
  | 'VerifierError'
  | 'NonceMismatch'
  | 'MalformedAdditionalEvidence'
  | 'NotPrimaryTee'
  | 'NotDeviceTee'
  | 'InitDataMismatch';

/** Every code a verifier may report: the union of the verifiers' code lists. */
export type VerificationCode = CommonVerificationCode | TdxErrorCode | NvidiaErrorCode;

export interface VerificationFailure {
  /** Stable machine-readable reason, e.g. `ReportDataMismatch`, `TcbInfoExpired`, `RimMismatch`. */
  code: VerificationCode;
  /** One human sentence naming the exact check that failed. */
  message: string;
}

export interface VerifiedEvidence {
  tee: TeeType;
  teeClass: 'cpu' | 'gpu';
  /** Claims the appraisal policy matches on (flat JSON; e.g. `mr_td`, `tcb_status`, `debug`). */
  claims: Record<string, JsonValue>;
  /** Non-fatal observations (e.g. collateral served from cache while the PCCS is down). */
  warnings: string[];
}

export type VerificationResult = { ok: true; verified: VerifiedEvidence } | { ok: false; failure: VerificationFailure };

export interface Verifier {
  readonly tee: TeeType;
  verify(input: EvidenceToVerify): Promise<VerificationResult>;
}
