// The hooks the KBS server calls (kept apart from protocol handling): which AttestationPolicy appraises an
// attestation, and whether an attested requester may receive a resource.
import type { AttestationPolicySpec } from '../../api/attestation-policy.ts';
import type { EarClaims } from '../../attestation/policy/ear.ts';
import type { ReferenceValue } from '../../attestation/policy/reference-values.ts';
import type { VerifiedEvidence } from '../../attestation/verifier.ts';
import type { TeePubKey } from '../../protocol/tee-key.ts';

export interface PolicyContext {
  /** Identifies the policy in the EAR (`ear.appraisal-policy-id`), e.g. `namespace/name`. */
  id: string;
  spec: AttestationPolicySpec;
  referenceValues: ReferenceValue[];
}

export interface PolicyQuery {
  tee: string;
  /** Remote address of the requester (IPv4-mapped IPv6 prefix removed). */
  peerAddress: string;
  /** Hex digest of the init-data the guest sent, if any. */
  initDataDigest?: string;
}

export interface AttestedRequester {
  claims: EarClaims;
  verified: VerifiedEvidence[];
  teePubkey: TeePubKey;
  /** The EAR token the request was authorized with (cookie session or Bearer). */
  ear: string;
  peerAddress: string;
  initDataDigest?: string;
}

/** A refusal's `agent` is the agent the requester claimed to be (its Events get the reason). */
export type AuthorizeResult = { ok: true; plaintext: Buffer; credential: string; agent: string; credentialDigest: string } | { ok: false; reason: string; code?: string; agent?: string };

export interface Entitlements {
  authorize(resourcePath: string, attested: AttestedRequester): Promise<AuthorizeResult>;
}

export type KbsEvent =
  | { type: 'attested'; tee: string; status: string; policyId: string; tokenDigest: string; peerAddress: string; sampleTee: boolean }
  /** `tee`: the TEE type the requester declared at /auth (absent when the session is unknown). */
  | { type: 'attestation-refused'; code: string; message: string; peerAddress: string; tee?: string }
  | { type: 'released'; resourcePath: string; credential: string; agent: string; peerAddress: string; credentialDigest: string }
  | { type: 'release-refused'; resourcePath: string; code: string; reason: string; peerAddress: string; agent?: string };

/** pino-compatible subset; the server logs codes and resource paths, never values, tokens or session ids. */
export interface KbsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}
