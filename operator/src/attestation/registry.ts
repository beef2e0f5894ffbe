// Maps each KBS TEE type to its Verifier and verifies KBS 0.4.0 composite evidence: the primary evidence
// against SHA-384(JCS({nonce, tee-pubkey, additional-evidence})) and every additional device evidence against
// SHA-384(JCS({nonce, tee-pubkey})). The sample TEEs are refused unless the policy explicitly allows them.
import type { AttestationPolicySpec } from '../api/attestation-policy.ts';
import { deviceReportData, primaryReportData } from '../protocol/runtime-data.ts';
import type { TeePubKey } from '../protocol/tee-key.ts';
import { SampleDeviceVerifier, SampleVerifier } from './sample/verifier.ts';
import type { JsonValue, TeeType, VerificationFailure, VerifiedEvidence, Verifier } from './verifier.ts';

export const TEE_TYPES: readonly TeeType[] = ['sample', 'sampledevice', 'tdx', 'nvidia'];
const SAMPLE_TEES: ReadonlySet<TeeType> = new Set(['sample', 'sampledevice']);
const MAX_ADDITIONAL = 16;

export const isTeeType = (v: unknown): v is TeeType => typeof v === 'string' && (TEE_TYPES as readonly string[]).includes(v);

export interface RegistryVerifyInput {
  evidence: JsonValue;
  expectedReportData: Uint8Array;
  policy: AttestationPolicySpec;
  at: Date;
  initDataDigest?: Uint8Array;
}

export type RegistryResult = { ok: true; verified: VerifiedEvidence } | { ok: false; failure: VerificationFailure & { tee: string } };

/** Told how long each verifier ran (the operator's metrics); verifiers themselves record nothing. */
export interface VerificationObserver {
  verified(tee: TeeType, seconds: number, ok: boolean): void;
}

export class VerifierRegistry {
  readonly #verifiers = new Map<TeeType, Verifier>();
  readonly #observer: VerificationObserver | undefined;

  constructor(verifiers: Verifier[] = [], observer?: VerificationObserver) {
    for (const v of verifiers) this.register(v);
    this.#observer = observer;
  }

  register(verifier: Verifier): this {
    this.#verifiers.set(verifier.tee, verifier);
    return this;
  }

  has(tee: TeeType): boolean {
    return this.#verifiers.has(tee);
  }

  /** Verifies one evidence with the verifier for `tee`, after the sample-TEE policy gate. Never throws. */
  async verify(tee: string, input: RegistryVerifyInput): Promise<RegistryResult> {
    if (!isTeeType(tee)) return { ok: false, failure: { tee, code: 'UnsupportedTee', message: `TEE type '${tee.slice(0, 32)}' is not supported` } };
    if (SAMPLE_TEES.has(tee) && !input.policy.allowSampleTee) {
      return { ok: false, failure: { tee, code: 'SampleTeeNotAllowed', message: `the AttestationPolicy does not allow the ${tee} TEE (spec.allowSampleTee is false)` } };
    }
    const verifier = this.#verifiers.get(tee);
    if (!verifier) return { ok: false, failure: { tee, code: 'UnsupportedTee', message: `no verifier is registered for TEE type '${tee}'` } };
    const started = performance.now();
    try {
      const r = await verifier.verify({
        evidence: input.evidence,
        expectedReportData: input.expectedReportData,
        at: input.at,
        policy: input.policy,
        ...(input.initDataDigest ? { initDataDigest: input.initDataDigest } : {}),
      });
      this.#observer?.verified(tee, (performance.now() - started) / 1000, r.ok);
      return r.ok ? r : { ok: false, failure: { tee, ...r.failure } };
    } catch (err) {
      this.#observer?.verified(tee, (performance.now() - started) / 1000, false);
      return { ok: false, failure: { tee, code: 'VerifierError', message: `${tee} verifier failed unexpectedly: ${err instanceof Error ? err.message : 'unknown error'}` } };
    }
  }
}

/** The registry with the sample verifiers; TDX and NVIDIA verifiers are added by their modules. */
export function defaultVerifierRegistry(extra: Verifier[] = [], observer?: VerificationObserver): VerifierRegistry {
  return new VerifierRegistry([new SampleVerifier(), new SampleDeviceVerifier(), ...extra], observer);
}

/** One KBS 0.4.0 attestation, already shape-checked (see release/kbs/messages.ts). */
export interface CompositeAttestation {
  /** TEE type of the primary evidence (from the /auth request or the agent's provider). */
  tee: string;
  runtimeNonce: string;
  teePubkey: TeePubKey;
  primaryEvidence: JsonValue;
  /** The `additional_evidence` string exactly as received ("" when there are no devices). */
  additionalEvidence: string;
  initDataDigest?: Uint8Array;
}

export type CompositeResult = { ok: true; verified: VerifiedEvidence[] } | { ok: false; failure: VerificationFailure & { tee: string } };

function parseAdditional(text: string): { ok: true; entries: [string, JsonValue][] } | { ok: false; message: string } {
  if (text === '') return { ok: true, entries: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, message: 'additional_evidence is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, message: 'additional_evidence must be a JSON object keyed by TEE type' };
  const entries = Object.entries(parsed as Record<string, JsonValue>);
  if (entries.length > MAX_ADDITIONAL) return { ok: false, message: `additional_evidence has more than ${MAX_ADDITIONAL} entries` };
  return { ok: true, entries };
}

/**
 * Verifies primary + additional evidence of one attestation against `nonce` (the challenge issued by this
 * verifier). Returns the verified evidences in order: primary first.
 */
export async function verifyCompositeEvidence(
  attestation: CompositeAttestation,
  nonce: string,
  policy: AttestationPolicySpec,
  registry: VerifierRegistry,
  at: Date,
): Promise<CompositeResult> {
  const tee = attestation.tee;
  if (attestation.runtimeNonce !== nonce) {
    return { ok: false, failure: { tee, code: 'NonceMismatch', message: 'runtime-data.nonce is not the nonce this verifier issued for the session' } };
  }
  const additional = parseAdditional(attestation.additionalEvidence);
  if (!additional.ok) return { ok: false, failure: { tee, code: 'MalformedAdditionalEvidence', message: additional.message } };
  const init = attestation.initDataDigest ? { initDataDigest: attestation.initDataDigest } : {};
  const primary = await registry.verify(tee, {
    evidence: attestation.primaryEvidence,
    expectedReportData: primaryReportData(nonce, attestation.teePubkey, attestation.additionalEvidence),
    policy,
    at,
    ...init,
  });
  if (!primary.ok) return primary;
  if (primary.verified.teeClass !== 'cpu') return { ok: false, failure: { tee, code: 'NotPrimaryTee', message: `${tee} cannot be the primary (CPU) evidence` } };
  const verified = [primary.verified];
  const deviceRd = deviceReportData(nonce, attestation.teePubkey);
  for (const [deviceTee, evidence] of additional.entries) {
    const r = await registry.verify(deviceTee, { evidence, expectedReportData: deviceRd, policy, at });
    if (!r.ok) return r;
    if (r.verified.teeClass === 'cpu') return { ok: false, failure: { tee: deviceTee, code: 'NotDeviceTee', message: `${deviceTee} cannot be additional (device) evidence` } };
    verified.push(r.verified);
  }
  return { ok: true, verified };
}
