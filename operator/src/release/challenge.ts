// Challenge (push) delivery, the trustiflux resource-injection protocol on the guest's API port (8006):
//   POST /cdh/resource-injection/prepare/<repo>/<type>/<tag>  {"nonce"}  → {session_id, nonce, tee_pubkey, evidence(b64)}
//   verify evidence bound to SHA-384(JCS({nonce, tee-pubkey})), JWE the value to tee_pubkey,
//   POST /cdh/resource-injection/commit/<repo>/<type>/<tag>   {session_id, encrypted_resource}
// Transport failures are retried with backoff (each attempt with a fresh nonce); a verification failure is
// final. Verification is a callback so policy stays out of this client; `challengeVerifier` builds it.
import { randomBytes } from 'node:crypto';
import type { AttestationPolicySpec } from '../api/attestation-policy.ts';
import { appraise, releaseDecision, type Appraisal } from '../attestation/policy/appraise.ts';
import { buildEarClaims, type EarSigner } from '../attestation/policy/ear.ts';
import type { ReferenceValue } from '../attestation/policy/reference-values.ts';
import type { VerifierRegistry } from '../attestation/registry.ts';
import type { JsonValue } from '../attestation/verifier.ts';
import { encryptToTeeKey, JweError } from './jwe.ts';
import { deviceReportData } from '../protocol/runtime-data.ts';
import { parseTeePubKey, type TeePubKey } from '../protocol/tee-key.ts';
import { RESOURCE_PATH_PATTERN } from '../api/sealed-credential.ts';

export type ChallengeVerification = { ok: true; appraisal: Appraisal; ear?: string } | { ok: false; code: string; message: string };

export type InjectFailureCode =
  | 'InvalidResourcePath'
  | 'Transport'
  | 'PrepareRejected'
  | 'MalformedPrepareResponse'
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
  /** TEE type of the guest's evidence (sample, tdx). */
  tee: string;
  verify(evidence: { tee: string; evidence: JsonValue }, nonce: string, teePubkey: TeePubKey): Promise<ChallengeVerification>;
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** The reconcile's abort signal: no new attempt (and no in-flight request) outlives it. */
  signal?: AbortSignal;
}

class TransportError extends Error {}
const TRANSIENT_STATUS = new Set([502, 503, 504]);

async function postJson(url: string, body: unknown, timeoutMs: number, abort?: AbortSignal): Promise<{ status: number; json: unknown }> {
  let res: Response;
  const signal = abort ? AbortSignal.any([abort, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  } catch (err) {
    throw new TransportError(err instanceof Error ? `${err.name}: ${(err.cause as Error | undefined)?.message ?? err.message}` : 'network error');
  }
  if (TRANSIENT_STATUS.has(res.status)) throw new TransportError(`HTTP ${res.status}`);
  const text = await res.text().catch(() => '');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

type Attempt = { ok: true; appraisal: Appraisal; ear?: string } | { ok: false; code: InjectFailureCode; message: string; verification?: { code: string; message: string } };

async function attempt(o: InjectOptions, timeoutMs: number): Promise<Attempt> {
  const base = o.baseUrl.replace(/\/+$/, '');
  const nonce = randomBytes(32).toString('base64url');
  const prep = await postJson(`${base}/cdh/resource-injection/prepare/${o.resourcePath}`, { nonce }, timeoutMs, o.signal);
  if (prep.status !== 200) return { ok: false, code: 'PrepareRejected', message: `prepare returned HTTP ${prep.status}` };
  const p = prep.json as Record<string, unknown> | undefined;
  if (typeof p !== 'object' || p === null || typeof p['session_id'] !== 'string' || typeof p['nonce'] !== 'string' || typeof p['evidence'] !== 'string') {
    return { ok: false, code: 'MalformedPrepareResponse', message: 'prepare response must have string session_id, nonce and evidence' };
  }
  if (p['nonce'] !== nonce) return { ok: false, code: 'NonceMismatch', message: 'prepare response nonce differs from the nonce sent' };
  const key = parseTeePubKey(p['tee_pubkey']);
  if (!key.ok) return { ok: false, code: 'MalformedPrepareResponse', message: `prepare response ${key.message}` };
  let evidence: JsonValue;
  try {
    evidence = JSON.parse(Buffer.from(p['evidence'], 'base64').toString('utf8')) as JsonValue;
  } catch {
    return { ok: false, code: 'MalformedPrepareResponse', message: 'prepare response evidence is not base64 of JSON' };
  }
  const v = await o.verify({ tee: o.tee, evidence }, nonce, key.key);
  if (!v.ok) return { ok: false, code: 'VerificationFailed', message: `evidence refused: ${v.code}: ${v.message}`, verification: { code: v.code, message: v.message } };
  let encrypted;
  try {
    encrypted = encryptToTeeKey(key.key, o.plaintext);
  } catch (err) {
    return { ok: false, code: 'UnsupportedTeeKey', message: err instanceof JweError ? err.message : 'cannot encrypt to the TEE key' };
  }
  const commit = await postJson(`${base}/cdh/resource-injection/commit/${o.resourcePath}`, { session_id: p['session_id'], encrypted_resource: encrypted }, timeoutMs, o.signal);
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
      const r = await attempt(o, o.timeoutMs ?? 15_000);
      return { ...r, attempts: i };
    } catch (err) {
      lastTransport = err instanceof TransportError ? err.message : err instanceof Error ? err.message : 'error';
      if (i < attempts) await sleep(Math.min(maxDelay, baseDelay * 2 ** (i - 1)) * (0.5 + Math.random() / 2));
    }
  }
  return { ok: false, code: 'Transport', message: `guest API unreachable after ${attempts} attempts: ${lastTransport}`, attempts };
}

/** Builds the `verify` callback: registry verification (nonce + TEE-key binding), appraisal, release gate, optional EAR. */
export function challengeVerifier(deps: {
  registry: VerifierRegistry;
  policy: AttestationPolicySpec;
  policyId: string;
  referenceValues: ReferenceValue[];
  now?: () => Date;
  signer?: EarSigner;
}): InjectOptions['verify'] {
  return async (evidence, nonce, teePubkey) => {
    const at = deps.now?.() ?? new Date();
    const r = await deps.registry.verify(evidence.tee, { evidence: evidence.evidence, expectedReportData: deviceReportData(nonce, teePubkey), policy: deps.policy, at });
    if (!r.ok) return { ok: false, code: r.failure.code, message: r.failure.message };
    const appraisal = appraise([r.verified], deps.policy, deps.referenceValues, at);
    const gate = releaseDecision(appraisal, deps.policy);
    if (!gate.ok) return { ok: false, code: gate.code, message: gate.message };
    const ear = deps.signer?.sign(buildEarClaims(appraisal, { policyId: deps.policyId, runtimeData: { nonce, teePubkey }, at }));
    return { ok: true, appraisal, ...(ear ? { ear } : {}) };
  };
}
