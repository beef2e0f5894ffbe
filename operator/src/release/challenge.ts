// Challenge (push) delivery, the trustiflux resource-injection protocol on the guest's API port (8006):
//   POST /cdh/resource-injection/prepare/<repo>/<type>/<tag>  {"nonce"}  → {session_id, nonce, tee_pubkey, evidence(b64)}
//   verify the evidence against the nonce and tee_pubkey, JWE the value to tee_pubkey,
//   POST /cdh/resource-injection/commit/<repo>/<type>/<tag>   {session_id, encrypted_resource}
// `evidence` is base64 of JSON in one of two shapes:
//   - KBS 0.4.0 composite evidence {primary_evidence, additional_evidence} (what the attestation agent's
//     composite path returns, e.g. TDX + NVIDIA GPUs): the primary report data is
//     SHA-384(JCS({nonce, tee-pubkey, additional-evidence})) and each device's is SHA-384(JCS({nonce, tee-pubkey})),
//     exactly as the KBS binds them, so one quote covers every GPU and each GPU's SPDM nonce carries the nonce;
//   - a single evidence value (older trustiflux builds) bound to SHA-384(JCS({nonce, tee-pubkey})); it can carry
//     no device evidence, so a policy with gpu.required refuses it (GpuEvidenceMissing).
// Every guest reply is hostile: bodies are read with a byte cap and every request has a timeout; redirects are
// not followed. Transport failures are retried with backoff (each attempt with a fresh nonce); a verification
// failure is final. Verification is a callback so policy stays out of this client; `challengeVerifier` builds it.
import { randomBytes } from 'node:crypto';
import type { AttestationPolicySpec } from '../api/attestation-policy.ts';
import { appraise, releaseDecision, type Appraisal } from '../attestation/policy/appraise.ts';
import { buildEarClaims, type EarSigner } from '../attestation/policy/ear.ts';
import type { ReferenceValue } from '../attestation/policy/reference-values.ts';
import { verifyCompositeEvidence, type VerifierRegistry } from '../attestation/registry.ts';
import type { JsonValue, VerifiedEvidence } from '../attestation/verifier.ts';
import { BodyTooLargeError, readTextBounded } from '../net/bounded-body.ts';
import { encryptToTeeKey, JweError } from './jwe.ts';
import { deviceReportData } from '../protocol/runtime-data.ts';
import { parseTeePubKey, type TeePubKey } from '../protocol/tee-key.ts';
import { RESOURCE_PATH_PATTERN } from '../api/sealed-credential.ts';
import { initDataDigestOf, withSandboxPolicyClaim } from '../pep/attestation.ts';

export type ChallengeVerification = { ok: true; appraisal: Appraisal; ear?: string } | { ok: false; code: string; message: string };

export type InjectFailureCode =
  | 'InvalidResourcePath'
  | 'Transport'
  | 'PrepareRejected'
  | 'MalformedPrepareResponse'
  | 'PrepareResponseTooLarge'
  | 'NonceMismatch'
  | 'VerificationFailed'
  | 'UnsupportedTeeKey'
  | 'CommitRejected';

export type InjectResult =
  | { ok: true; appraisal: Appraisal; ear?: string; attempts: number }
  | { ok: false; code: InjectFailureCode; message: string; attempts: number; verification?: { code: string; message: string } };

export interface InjectOptions {
  /** Guest API base URL, e.g. http://10.0.0.5:8006 */
  baseUrl: string;
  resourcePath: string;
  plaintext: Uint8Array;
  /** TEE type of the guest's (primary) evidence (sample, tdx). */
  tee: string;
  verify(evidence: PresentedEvidence, nonce: string, teePubkey: TeePubKey): Promise<ChallengeVerification>;
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Per request (connect + headers + whole body), default 15 s. */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** The reconcile's abort signal: no new attempt (and no in-flight request) outlives it. */
  signal?: AbortSignal;
}

/**
 * What the guest presented: `additionalEvidence` is set for KBS composite evidence (the exact string received,
 * "" when there are no devices) and absent for a single, legacy evidence value.
 */
export interface PresentedEvidence {
  tee: string;
  evidence: JsonValue;
  additionalEvidence?: string;
}

/**
 * Cap on the prepare reply. TDX quote + CC event log + eight GPUs' SPDM reports and certificate chains, double
 * base64-encoded, come to well under 1 MiB (the 8-GPU test reply is measured in its test); 4 MiB leaves room for
 * long event logs and is the KBS body limit too. Nothing larger is ever buffered.
 */
export const PREPARE_RESPONSE_MAX_BYTES = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 15_000;

class TransportError extends Error {}
class TooLargeError extends Error {}
const TRANSIENT_STATUS = new Set([502, 503, 504]);

const describeError = (err: unknown) => (err instanceof Error ? `${err.name}: ${(err.cause as Error | undefined)?.message ?? err.message}` : 'network error');

/** POST JSON; the reply body is read only when `maxBytes` > 0, never past it, and within the same timeout. */
async function postJson(url: string, body: unknown, timeoutMs: number, maxBytes: number, abort?: AbortSignal): Promise<{ status: number; json: unknown }> {
  let res: Response;
  const signal = abort ? AbortSignal.any([abort, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  try {
    // The timeout (and the reconcile's abort) signal also aborts reading the body: a guest that trickles bytes forever is cut off.
    res = await fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  } catch (err) {
    throw new TransportError(describeError(err));
  }
  if (TRANSIENT_STATUS.has(res.status) || maxBytes === 0) {
    await res.body?.cancel().catch(() => undefined);
    if (TRANSIENT_STATUS.has(res.status)) throw new TransportError(`HTTP ${res.status}`);
    return { status: res.status, json: undefined };
  }
  let text: string;
  try {
    text = await readTextBounded(res, maxBytes);
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw new TooLargeError(`reply body exceeds ${maxBytes} bytes`);
    throw new TransportError(`reading the reply body failed: ${describeError(err)}`);
  }
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Decodes the prepare reply's `evidence` (base64 of JSON) into composite or single evidence. */
function decodeEvidence(tee: string, b64: string): PresentedEvidence | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (isObject(value) && 'primary_evidence' in value) {
    const primary = value['primary_evidence'];
    const additional = value['additional_evidence'];
    // additional_evidence is hashed as canonical JSON, which cannot encode a lone surrogate
    if (primary === null || primary === undefined || typeof additional !== 'string' || !additional.isWellFormed()) return undefined;
    return { tee, evidence: primary as JsonValue, additionalEvidence: additional };
  }
  return value === null ? undefined : { tee, evidence: value as JsonValue };
}

type Attempt = { ok: true; appraisal: Appraisal; ear?: string } | { ok: false; code: InjectFailureCode; message: string; verification?: { code: string; message: string } };

async function attempt(o: InjectOptions, timeoutMs: number): Promise<Attempt> {
  const base = o.baseUrl.replace(/\/+$/, '');
  const nonce = randomBytes(32).toString('base64url');
  let prep: { status: number; json: unknown };
  try {
    prep = await postJson(`${base}/cdh/resource-injection/prepare/${o.resourcePath}`, { nonce }, timeoutMs, PREPARE_RESPONSE_MAX_BYTES, o.signal);
  } catch (err) {
    if (err instanceof TooLargeError) return { ok: false, code: 'PrepareResponseTooLarge', message: `prepare ${err.message}; nothing is released` };
    throw err;
  }
  if (prep.status !== 200) return { ok: false, code: 'PrepareRejected', message: `prepare returned HTTP ${prep.status}` };
  const p = prep.json as Record<string, unknown> | undefined;
  if (typeof p !== 'object' || p === null || typeof p['session_id'] !== 'string' || typeof p['nonce'] !== 'string' || typeof p['evidence'] !== 'string') {
    return { ok: false, code: 'MalformedPrepareResponse', message: 'prepare response must have string session_id, nonce and evidence' };
  }
  if (p['nonce'] !== nonce) return { ok: false, code: 'NonceMismatch', message: 'prepare response nonce differs from the nonce sent' };
  const key = parseTeePubKey(p['tee_pubkey']);
  if (!key.ok) return { ok: false, code: 'MalformedPrepareResponse', message: `prepare response ${key.message}` };
  const evidence = decodeEvidence(o.tee, p['evidence']);
  if (!evidence) return { ok: false, code: 'MalformedPrepareResponse', message: 'prepare response evidence is not base64 of JSON evidence or {primary_evidence, additional_evidence: string}' };
  let v: ChallengeVerification;
  try {
    v = await o.verify(evidence, nonce, key.key);
  } catch (err) {
    // A verifier that throws on hostile evidence is a refusal of that evidence, never a transport retry.
    const message = err instanceof Error ? err.message.slice(0, 200) : 'verifier error';
    return { ok: false, code: 'VerificationFailed', message: `evidence refused: VerifierError: ${message}`, verification: { code: 'VerifierError', message } };
  }
  if (!v.ok) return { ok: false, code: 'VerificationFailed', message: `evidence refused: ${v.code}: ${v.message}`, verification: { code: v.code, message: v.message } };
  let encrypted;
  try {
    encrypted = encryptToTeeKey(key.key, o.plaintext);
  } catch (err) {
    return { ok: false, code: 'UnsupportedTeeKey', message: err instanceof JweError ? err.message : 'cannot encrypt to the TEE key' };
  }
  // Only the commit status matters: its body is never read.
  const commit = await postJson(`${base}/cdh/resource-injection/commit/${o.resourcePath}`, { session_id: p['session_id'], encrypted_resource: encrypted }, timeoutMs, 0, o.signal);
  if (commit.status < 200 || commit.status > 299) return { ok: false, code: 'CommitRejected', message: `commit returned HTTP ${commit.status}` };
  return { ok: true, appraisal: v.appraisal, ...(v.ear ? { ear: v.ear } : {}) };
}

/** Pushes one resource into a guest. Never throws; failures carry a stable code and no secret material. */
export async function injectResource(o: InjectOptions): Promise<InjectResult> {
  if (!RESOURCE_PATH_PATTERN.test(o.resourcePath)) return { ok: false, code: 'InvalidResourcePath', message: 'resource path must be <repo>/<type>/<tag>', attempts: 0 };
  const attempts = o.retry?.attempts ?? 5;
  const baseDelay = o.retry?.baseDelayMs ?? 500;
  const maxDelay = o.retry?.maxDelayMs ?? 10_000;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let lastTransport = '';
  for (let i = 1; i <= attempts; i++) {
    if (o.signal?.aborted) return { ok: false, code: 'Transport', message: 'aborted: the reconcile was called off', attempts: i - 1 };
    try {
      const r = await attempt(o, o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      return { ...r, attempts: i };
    } catch (err) {
      lastTransport = err instanceof TransportError ? err.message : err instanceof Error ? err.message : 'error';
      if (i < attempts) await sleep(Math.min(maxDelay, baseDelay * 2 ** (i - 1)) * (0.5 + Math.random() / 2));
    }
  }
  return { ok: false, code: 'Transport', message: `guest API unreachable after ${attempts} attempts: ${lastTransport}`, attempts };
}

/**
 * Builds the `verify` callback: registry verification (composite: primary + every device, each bound to the nonce
 * and TEE key as the KBS binds them), the GPU requirement, appraisal, release gate, optional EAR.
 */
export function challengeVerifier(deps: {
  registry: VerifierRegistry;
  policy: AttestationPolicySpec;
  policyId: string;
  referenceValues: ReferenceValue[];
  now?: () => Date;
  signer?: EarSigner;
  /**
   * The init-data TOML the operator launched the instance with. The guest does not send init-data in a
   * push; the operator knows what it wrote, so the primary evidence must bind its digest (MRCONFIGID on
   * TDX, `init_data` for the sample TEE) and the sandbox policy it names becomes a claim, as in KBS mode.
   */
  initData?: string;
}): InjectOptions['verify'] {
  const initDataDigest = deps.initData !== undefined ? { initDataDigest: initDataDigestOf(deps.initData) } : {};
  return async (evidence, nonce, teePubkey) => {
    const at = deps.now?.() ?? new Date();
    let verified: VerifiedEvidence[];
    if (evidence.additionalEvidence !== undefined) {
      const r = await verifyCompositeEvidence(
        { tee: evidence.tee, runtimeNonce: nonce, teePubkey, primaryEvidence: evidence.evidence, additionalEvidence: evidence.additionalEvidence, ...initDataDigest },
        nonce,
        deps.policy,
        deps.registry,
        at,
      );
      if (!r.ok) return { ok: false, code: r.failure.code, message: r.failure.message };
      verified = r.verified;
    } else {
      const r = await deps.registry.verify(evidence.tee, { evidence: evidence.evidence, expectedReportData: deviceReportData(nonce, teePubkey), policy: deps.policy, at, ...initDataDigest });
      if (!r.ok) return { ok: false, code: r.failure.code, message: r.failure.message };
      verified = [r.verified];
    }
    verified = withSandboxPolicyClaim(verified, deps.initData);
    // Refused here with its own code (the appraisal would only say AppraisalBelowMinimum).
    // Same rule as the appraisal: NVIDIA evidence, or sampledevice under a policy that allows sample TEEs.
    const gpu = verified.some((v) => v.tee === 'nvidia' || (v.tee === 'sampledevice' && deps.policy.allowSampleTee));
    if (deps.policy.gpu?.required && !gpu) {
      return { ok: false, code: 'GpuEvidenceMissing', message: 'policy.gpu.required is set but the guest presented no NVIDIA GPU evidence (no nvidia entry in additional_evidence)' };
    }
    const appraisal = appraise(verified, deps.policy, deps.referenceValues, at);
    const gate = releaseDecision(appraisal, deps.policy);
    if (!gate.ok) return { ok: false, code: gate.code, message: gate.message };
    const runtimeData = { nonce, teePubkey, ...(evidence.additionalEvidence !== undefined ? { additionalEvidence: evidence.additionalEvidence } : {}) };
    const ear = deps.signer?.sign(buildEarClaims(appraisal, { policyId: deps.policyId, runtimeData, at }));
    return { ok: true, appraisal, ...(ear ? { ear } : {}) };
  };
}
