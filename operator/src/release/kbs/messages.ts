// Parsers for the KBS 0.4.0 request bodies (kbs-types Request and Attestation). Each returns a typed value
// or a message naming the field and the check; nothing here throws. Every client-supplied field is
// size-capped and checked before any work that grows with it (hashing, verification), and every scan is
// linear in the input: a multiline regex over init-data used to take 14 s for 120 KB of newlines.
import { createHash } from 'node:crypto';
import type { JsonValue } from '../../attestation/verifier.ts';
import { parseTeePubKey, type TeePubKey } from '../../protocol/tee-key.ts';

export const KBS_PROTOCOL_VERSION = '0.4.0';
/** kbs-types `Tee` serde strings (a request naming anything else fails to deserialize). */
export const KBS_TEES = ['az-snp-vtpm', 'az-tdx-vtpm', 'nvidia', 'sgx', 'snp', 'tdx', 'cca', 'csv', 'se', 'hygondcu', 'tpm', 'sample', 'sampledevice'] as const;

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** Caps on client-supplied fields (bytes unless noted); the HTTP body limits sit above these. */
export const KBS_LIMITS = {
  /** Nesting of `{`/`[` in a body, and inside additional_evidence (which verifiers parse again). */
  jsonDepth: 32,
  /** Comma-separated values in one body (real attestations have a few dozen). */
  jsonElements: 65_536,
  version: 32,
  tee: 32,
  /** A real SEV request (test/fixtures/kbs/sev_request.json) carries 28.6 KB here. */
  extraParams: 48 * 1024,
  nonce: 256,
  initDataFormat: 16,
  initDataBody: 64 * 1024,
  /** TDX evidence is a quote (~5 KB) plus event logs; measured real evidence is far below this. */
  primaryEvidence: 1024 * 1024,
  /** Up to 8 GPUs' SPDM reports and certificate chains. */
  additionalEvidence: 2 * 1024 * 1024,
} as const;

/**
 * Shape of JSON text in one pass, strings skipped: the deepest `{`/`[` nesting and the number of values
 * separated by commas, stopping early once a cap is exceeded. Run before JSON.parse, so that deep nesting
 * never reaches a recursive walk and a body of 300,000 tiny members never becomes 300,000 object keys.
 */
export function jsonShape(text: string, caps: { depth: number; elements: number }): { depth: number; elements: number } {
  // Outside strings, the regex engine finds the next structural character (native; test() with /g only
  // moves lastIndex, nothing is allocated). A string is skipped with indexOf to its next quote, which is
  // escaped iff an odd run of backslashes precedes it; each run is walked once, so this stays linear.
  const outside = /["{}[\],]/g;
  let depth = 0;
  let max = 0;
  let elements = 1; // values ≈ commas + 1: a cap, not a count
  let at = 0;
  for (;;) {
    outside.lastIndex = at;
    if (!outside.test(text)) break;
    at = outside.lastIndex;
    const c = text.charCodeAt(at - 1);
    if (c === 0x22) {
      for (;;) {
        const q = text.indexOf('"', at);
        if (q < 0) return { depth: max, elements }; // unterminated: JSON.parse will refuse it
        let b = q - 1;
        while (b >= at && text.charCodeAt(b) === 0x5c) b--;
        at = q + 1;
        if ((q - 1 - b) % 2 === 0) break;
      }
    } else if (c === 0x2c) {
      if (++elements > caps.elements) break;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max && (max = depth) > caps.depth) break;
    } else depth--;
  }
  return { depth: max, elements };
}

/** Characters of JSON text a parsed value takes, roughly (strings by length, not escapes), up to `cap`. */
export function jsonSizeAtMost(v: unknown, cap: number): number {
  let size = 0;
  const walk = (x: unknown): void => {
    if (size > cap) return;
    if (typeof x === 'string') size += x.length + 2;
    else if (Array.isArray(x)) {
      size += 2;
      for (const e of x) walk(e);
    } else if (typeof x === 'object' && x !== null) {
      size += 2;
      for (const [k, e] of Object.entries(x)) {
        size += k.length + 4;
        walk(e);
      }
    } else size += String(x).length;
  };
  walk(v); // depth is capped (KBS_LIMITS.jsonDepth) before anything is parsed, so recursion is bounded
  return size;
}

export const jsonDepth = (text: string, cap: number): number => jsonShape(text, { depth: cap, elements: Infinity }).depth;

const tooLarge = (field: string, size: number, cap: number, unit = 'bytes'): Parsed<never> => ({ ok: false, message: `${field} is ${size} ${unit}; the limit is ${cap}` });

/** UTF-8 size of a string, bounded: stops counting once it is known to exceed `cap`. */
function utf8Over(s: string, cap: number): number | undefined {
  if (s.length > cap) return Buffer.byteLength(s, 'utf8'); // linear, once, only for the error message
  if (s.length * 3 <= cap) return undefined;
  const n = Buffer.byteLength(s, 'utf8');
  return n > cap ? n : undefined;
}

export interface AuthRequest {
  version: string;
  tee: string;
}

export interface AttestationMessage {
  initData?: { format: string; body: string; digest: Buffer };
  nonce: string;
  teePubkey: TeePubKey;
  primaryEvidence: JsonValue;
  additionalEvidence: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseJson(body: Buffer, what = 'request body'): Parsed<unknown> {
  return parseJsonText(body.toString('utf8'), what);
}

function parseJsonText(text: string, what: string): Parsed<unknown> {
  const shape = jsonShape(text, { depth: KBS_LIMITS.jsonDepth, elements: KBS_LIMITS.jsonElements });
  if (shape.depth > KBS_LIMITS.jsonDepth) return { ok: false, message: `${what} nests JSON deeper than ${KBS_LIMITS.jsonDepth} levels` };
  if (shape.elements > KBS_LIMITS.jsonElements) return { ok: false, message: `${what} has more than ${KBS_LIMITS.jsonElements} JSON values` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, message: `${what} is not valid JSON` };
  }
}

export function parseAuthRequest(v: unknown): Parsed<AuthRequest> {
  if (!isObject(v)) return { ok: false, message: 'Request must be a JSON object {version, tee, extra-params}' };
  if (typeof v['version'] !== 'string') return { ok: false, message: 'Request.version must be a string' };
  if (v['version'].length > KBS_LIMITS.version) return tooLarge('Request.version', v['version'].length, KBS_LIMITS.version, 'characters');
  if (typeof v['tee'] !== 'string') return { ok: false, message: 'Request.tee must be a string' };
  if (v['tee'].length > KBS_LIMITS.tee) return tooLarge('Request.tee', v['tee'].length, KBS_LIMITS.tee, 'characters');
  if (!('extra-params' in v)) return { ok: false, message: 'Request.extra-params is missing' };
  const extra = jsonSizeAtMost(v['extra-params'], KBS_LIMITS.extraParams);
  if (extra > KBS_LIMITS.extraParams) return { ok: false, message: `Request.extra-params exceeds ${KBS_LIMITS.extraParams} characters of JSON` };
  return { ok: true, value: { version: v['version'], tee: v['tee'] } };
}

const INIT_DATA_ALGORITHMS: Record<string, 'sha256' | 'sha384' | 'sha512'> = { sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' };

const ALGORITHM_LINE = /^algorithm[ \t]*=[ \t]*"([^"]*)"/;

/**
 * The top-level TOML `algorithm` value of init-data (undefined when absent): one pass over lines, stopping
 * at the first table header. Each line is matched by an anchored regex without nested quantifiers, so the
 * whole scan is linear in the body.
 */
export function initDataAlgorithm(body: string): string | undefined {
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf('\n', start);
    if (end < 0) end = body.length;
    let i = start;
    while (i < end && (body.charCodeAt(i) === 0x20 || body.charCodeAt(i) === 0x09)) i++;
    const c = body.charCodeAt(i);
    if (c === 0x5b) return undefined; // `[table]`: no more top-level keys
    if (c === 0x61) {
      const m = ALGORITHM_LINE.exec(body.slice(i, end));
      if (m) return m[1];
    }
    start = end + 1;
  }
  return undefined;
}

/** init-data digest per its TOML `algorithm` (default sha384), as trustee binds it to MRCONFIGID. */
function initDataDigest(body: string): Parsed<Buffer> {
  const name = initDataAlgorithm(body);
  const algorithm = name === undefined ? 'sha384' : INIT_DATA_ALGORITHMS[name];
  if (!algorithm) return { ok: false, message: 'init-data algorithm must be sha256, sha384 or sha512' };
  return { ok: true, value: createHash(algorithm).update(body, 'utf8').digest() };
}

export function parseAttestation(v: unknown): Parsed<AttestationMessage> {
  if (!isObject(v)) return { ok: false, message: 'Attestation must be a JSON object' };
  const rd = v['runtime-data'];
  if (!isObject(rd)) return { ok: false, message: 'Attestation.runtime-data must be an object {nonce, tee-pubkey}' };
  if (typeof rd['nonce'] !== 'string') return { ok: false, message: 'runtime-data.nonce must be a string' };
  if (rd['nonce'].length > KBS_LIMITS.nonce) return tooLarge('runtime-data.nonce', rd['nonce'].length, KBS_LIMITS.nonce, 'characters');
  const key = parseTeePubKey(rd['tee-pubkey']);
  if (!key.ok) return { ok: false, message: `runtime-data.${key.message}` };
  const te = v['tee-evidence'];
  if (!isObject(te)) return { ok: false, message: 'Attestation.tee-evidence must be an object {primary_evidence, additional_evidence}' };
  if (!('primary_evidence' in te) || te['primary_evidence'] === null) return { ok: false, message: 'tee-evidence.primary_evidence is missing' };
  if (typeof te['additional_evidence'] !== 'string') return { ok: false, message: 'tee-evidence.additional_evidence must be a string' };
  const primarySize = jsonSizeAtMost(te['primary_evidence'], KBS_LIMITS.primaryEvidence);
  if (primarySize > KBS_LIMITS.primaryEvidence) return { ok: false, message: `tee-evidence.primary_evidence exceeds ${KBS_LIMITS.primaryEvidence} characters of JSON` };
  const additional = te['additional_evidence'];
  // Hashed as canonical JSON (RFC 8785) with the nonce and key, which cannot encode a lone surrogate.
  if (!additional.isWellFormed()) return { ok: false, message: 'tee-evidence.additional_evidence must be well-formed Unicode (no lone surrogates)' };
  if (!rd['nonce'].isWellFormed()) return { ok: false, message: 'runtime-data.nonce must be well-formed Unicode (no lone surrogates)' };
  const additionalSize = utf8Over(additional, KBS_LIMITS.additionalEvidence);
  if (additionalSize !== undefined) return tooLarge('tee-evidence.additional_evidence', additionalSize, KBS_LIMITS.additionalEvidence);
  // Verifiers JSON.parse this string again: hold it to the same nesting cap.
  const shape = jsonShape(additional, { depth: KBS_LIMITS.jsonDepth, elements: KBS_LIMITS.jsonElements });
  if (shape.depth > KBS_LIMITS.jsonDepth) return { ok: false, message: `tee-evidence.additional_evidence nests JSON deeper than ${KBS_LIMITS.jsonDepth} levels` };
  if (shape.elements > KBS_LIMITS.jsonElements) return { ok: false, message: `tee-evidence.additional_evidence has more than ${KBS_LIMITS.jsonElements} JSON values` };
  const out: AttestationMessage = {
    nonce: rd['nonce'],
    teePubkey: key.key,
    primaryEvidence: te['primary_evidence'] as JsonValue,
    additionalEvidence: te['additional_evidence'],
  };
  const init = v['init-data'];
  if (init !== undefined && init !== null) {
    if (!isObject(init) || typeof init['format'] !== 'string' || typeof init['body'] !== 'string') {
      return { ok: false, message: 'init-data must be {format, body} strings' };
    }
    if (init['format'].length > KBS_LIMITS.initDataFormat) return tooLarge('init-data.format', init['format'].length, KBS_LIMITS.initDataFormat, 'characters');
    const bodySize = utf8Over(init['body'], KBS_LIMITS.initDataBody);
    if (bodySize !== undefined) return tooLarge('init-data.body', bodySize, KBS_LIMITS.initDataBody);
    if (init['format'] !== 'toml') return { ok: false, message: `init-data format ${init['format']} is not supported (only toml)` };
    const digest = initDataDigest(init['body']);
    if (!digest.ok) return digest;
    out.initData = { format: 'toml', body: init['body'], digest: digest.value };
  }
  return { ok: true, value: out };
}
