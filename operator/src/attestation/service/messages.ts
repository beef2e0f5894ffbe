// Shape checks of the Trustee restful AS requests (API 1.6.0, what TNG 2.x sends), linear in the input and
// bounded before anything is verified:
//   POST /attestation {"verification_requests":[{"tee","evidence":<b64url JSON>,"runtime_data":{"structured":…}
//                     |{"raw":<b64>}|null,"init_data":{"init_data_digest":<b64>}|{"init_data_toml":…}|null,
//                     "runtime_data_hash_algorithm":"sha256"|"sha384"|"sha512"|null}],"policy_ids":[…]}
//   POST /challenge   {} or {"tee","tee_params"} (the body is ignored beyond its size)
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { initDataClaims } from '../../protocol/init-data-claims.ts';
import type { JsonValue } from '../verifier.ts';

export const AS_LIMITS = {
  /** Whole /attestation body (TDX quote + CC event log + GPU evidence, base64url): the KBS's attest limit. */
  attestationBody: 4 * 1024 * 1024,
  challengeBody: 4 * 1024,
  verificationRequests: 17,
  policyIds: 8,
  teeName: 32,
  /** One evidence, base64url text. */
  evidence: 3 * 1024 * 1024,
  /** Structured runtime data, as JCS text. */
  runtimeData: 16 * 1024,
  rawRuntimeData: 128,
  initDataToml: 64 * 1024,
  initDataDigest: 128,
  jsonDepth: 32,
  /** JSON values in the whole body (a TNG request has a few dozen; the evidence rides as one string). */
  bodyValues: 4096,
  evidenceValues: 65536,
} as const;

export type HashAlgorithm = 'sha256' | 'sha384' | 'sha512';

export interface VerificationRequest {
  tee: string;
  evidence: JsonValue;
  /** The report data the evidence must carry: H(JCS(structured)) or the raw bytes. Undefined: none given. */
  expectedReportData?: Buffer;
  /** The structured runtime data, recorded as runtime_data_claims. */
  runtimeDataClaims?: Record<string, JsonValue>;
  initData?: { digest: Buffer; claims: Record<string, string> };
}

export interface AttestationRequest {
  requests: VerificationRequest[];
  policyIds: string[];
}

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };
const fail = <T>(message: string): Parsed<T> => ({ ok: false, message });
const B64URL = /^[A-Za-z0-9_-]*={0,2}$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function decodeB64(text: string, urlSafe: boolean): Buffer | undefined {
  if (!(urlSafe ? B64URL : B64).test(text) || text.replace(/=+$/, '').length % 4 === 1) return undefined;
  return Buffer.from(text, urlSafe ? 'base64url' : 'base64');
}

function hashAlgorithm(v: unknown, i: number): Parsed<HashAlgorithm> {
  if (v === undefined || v === null) return { ok: true, value: 'sha384' };
  if (typeof v !== 'string') return fail(`verification_requests[${i}].runtime_data_hash_algorithm must be a string`);
  const a = v.toLowerCase();
  if (a === 'sha256' || a === 'sha384' || a === 'sha512') return { ok: true, value: a };
  return fail(`verification_requests[${i}].runtime_data_hash_algorithm must be sha256, sha384 or sha512`);
}

function initDataAlgorithm(body: string): HashAlgorithm | undefined {
  for (const raw of body.split('\n')) {
    const t = raw.trim();
    if (t.startsWith('[')) break;
    const m = /^algorithm\s*=\s*"([A-Za-z0-9]{1,16})"$/.exec(t);
    if (m) {
      const a = m[1]!.toLowerCase();
      return a === 'sha256' || a === 'sha384' || a === 'sha512' ? a : undefined;
    }
  }
  return 'sha384';
}

function parseInitData(v: unknown, i: number): Parsed<VerificationRequest['initData']> {
  if (v === undefined || v === null) return { ok: true, value: undefined };
  const where = `verification_requests[${i}].init_data`;
  if (!isObject(v) || Object.keys(v).length !== 1) return fail(`${where} must be {"init_data_digest"} or {"init_data_toml"}`);
  if ('init_data_digest' in v) {
    const d = v['init_data_digest'];
    const bytes = typeof d === 'string' && d.length <= AS_LIMITS.initDataDigest ? (decodeB64(d, false) ?? decodeB64(d, true)) : undefined;
    if (!bytes || bytes.length < 32 || bytes.length > 64) return fail(`${where}.init_data_digest must be the base64 of a 32..64-byte digest`);
    return { ok: true, value: { digest: bytes, claims: {} } };
  }
  const body = v['init_data_toml'];
  if (typeof body !== 'string' || body.length > AS_LIMITS.initDataToml) return fail(`${where}.init_data_toml must be a string of at most ${AS_LIMITS.initDataToml} bytes`);
  const algorithm = initDataAlgorithm(body);
  if (!algorithm) return fail(`${where}.init_data_toml algorithm must be sha256, sha384 or sha512`);
  return { ok: true, value: { digest: createHash(algorithm).update(body, 'utf8').digest(), claims: initDataClaims(body) } };
}

function parseRuntimeData(v: unknown, alg: HashAlgorithm, i: number): Parsed<Pick<VerificationRequest, 'expectedReportData' | 'runtimeDataClaims'>> {
  if (v === undefined || v === null) return { ok: true, value: {} };
  const where = `verification_requests[${i}].runtime_data`;
  if (!isObject(v) || Object.keys(v).length !== 1) return fail(`${where} must be {"structured": <JSON object>} or {"raw": <base64>}`);
  if ('raw' in v) {
    const raw = v['raw'];
    const bytes = typeof raw === 'string' && raw.length <= AS_LIMITS.rawRuntimeData ? (decodeB64(raw, false) ?? decodeB64(raw, true)) : undefined;
    if (!bytes || bytes.length === 0 || bytes.length > 64) return fail(`${where}.raw must be the base64 of 1..64 bytes`);
    return { ok: true, value: { expectedReportData: bytes } };
  }
  if (!('structured' in v)) return fail(`${where} must be {"structured": <JSON object>} or {"raw": <base64>}`);
  const s = v['structured'];
  if (!isObject(s)) return fail(`${where}.structured must be a JSON object`);
  const text = canonicalize(s);
  if (text === undefined || text.length > AS_LIMITS.runtimeData) return fail(`${where}.structured must be at most ${AS_LIMITS.runtimeData} bytes of JSON`);
  return { ok: true, value: { expectedReportData: createHash(alg).update(text, 'utf8').digest(), runtimeDataClaims: s as Record<string, JsonValue> } };
}

function parseOne(v: unknown, i: number): Parsed<VerificationRequest> {
  const where = `verification_requests[${i}]`;
  if (!isObject(v)) return fail(`${where} must be an object`);
  const tee = v['tee'];
  if (typeof tee !== 'string' || tee.length === 0 || tee.length > AS_LIMITS.teeName || !/^[a-z0-9-]+$/.test(tee)) return fail(`${where}.tee must be a TEE name (lower-case letters, digits, '-')`);
  const ev = v['evidence'];
  if (typeof ev !== 'string' || ev.length === 0 || ev.length > AS_LIMITS.evidence) return fail(`${where}.evidence must be base64url text of at most ${AS_LIMITS.evidence} characters`);
  const bytes = decodeB64(ev, true);
  if (!bytes) return fail(`${where}.evidence is not base64url`);
  const shape = jsonShapeProblem(bytes, AS_LIMITS.jsonDepth, AS_LIMITS.evidenceValues);
  if (shape) return fail(`${where}.evidence: ${shape.replace('the body', 'it')}`);
  let evidence: unknown;
  try {
    evidence = JSON.parse(bytes.toString('utf8'));
  } catch {
    return fail(`${where}.evidence does not decode to JSON`);
  }
  const alg = hashAlgorithm(v['runtime_data_hash_algorithm'], i);
  if (!alg.ok) return alg;
  const rd = parseRuntimeData(v['runtime_data'], alg.value, i);
  if (!rd.ok) return rd;
  const init = parseInitData(v['init_data'], i);
  if (!init.ok) return init;
  return { ok: true, value: { tee, evidence: evidence as JsonValue, ...rd.value, ...(init.value ? { initData: init.value } : {}) } };
}

/**
 * One linear pass over the raw bytes before JSON.parse: nesting depth and the number of values are bounded,
 * so a hostile body (2 Mi of '[' parses in ~0.7 s; 300k members in ~0.35 s) costs no more than reading it.
 */
export function jsonShapeProblem(body: Buffer, maxDepth: number, maxValues: number): string | undefined {
  let depth = 0;
  let values = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    if (inString) {
      // Jump to the next quote natively (bodies are mostly one long base64 string); it closes the string
      // unless an odd number of backslashes precedes it.
      const q = body.indexOf(0x22, i);
      if (q < 0) return undefined; // unterminated: JSON.parse reports it
      let backslashes = 0;
      while (q - 1 - backslashes >= i && body[q - 1 - backslashes] === 0x5c) backslashes++;
      i = q;
      if (backslashes % 2 === 0) inString = false;
      continue;
    }
    const c = body[i]!;
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return `the body nests JSON deeper than ${maxDepth} levels`;
      values++;
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2c || c === 0x3a) values++;
    if (values > maxValues) return `the body has more than ${maxValues} JSON values`;
  }
  return undefined;
}

export function parseAttestationRequest(body: Buffer): Parsed<AttestationRequest> {
  const shape = jsonShapeProblem(body, AS_LIMITS.jsonDepth, AS_LIMITS.bodyValues);
  if (shape) return fail(shape);
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return fail('the body is not JSON');
  }
  if (!isObject(v)) return fail('the body must be a JSON object');
  const list = v['verification_requests'];
  if (!Array.isArray(list)) return fail('verification_requests must be an array (restful AS API 1.6.0)');
  if (list.length === 0 || list.length > AS_LIMITS.verificationRequests) return fail(`verification_requests must hold 1..${AS_LIMITS.verificationRequests} entries`);
  const ids = v['policy_ids'] ?? [];
  if (!Array.isArray(ids) || ids.length > AS_LIMITS.policyIds || !ids.every((x) => typeof x === 'string')) return fail(`policy_ids must be an array of at most ${AS_LIMITS.policyIds} strings`);
  const requests: VerificationRequest[] = [];
  for (const [i, r] of list.entries()) {
    const p = parseOne(r, i);
    if (!p.ok) return p;
    requests.push(p.value);
  }
  return { ok: true, value: { requests, policyIds: ids as string[] } };
}
