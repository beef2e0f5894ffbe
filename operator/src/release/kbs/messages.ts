// Parsers for the KBS 0.4.0 request bodies (kbs-types Request and Attestation). Each returns a typed value
// or a message naming the field and the check; nothing here throws.
import { createHash } from 'node:crypto';
import type { JsonValue } from '../../attestation/verifier.ts';
import { parseTeePubKey, type TeePubKey } from '../../protocol/tee-key.ts';

export const KBS_PROTOCOL_VERSION = '0.4.0';
/** kbs-types `Tee` serde strings (a request naming anything else fails to deserialize). */
export const KBS_TEES = ['az-snp-vtpm', 'az-tdx-vtpm', 'nvidia', 'sgx', 'snp', 'tdx', 'cca', 'csv', 'se', 'hygondcu', 'tpm', 'sample', 'sampledevice'] as const;

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

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

export function parseJson(body: Buffer): Parsed<unknown> {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false, message: 'request body is not valid JSON' };
  }
}

export function parseAuthRequest(v: unknown): Parsed<AuthRequest> {
  if (!isObject(v)) return { ok: false, message: 'Request must be a JSON object {version, tee, extra-params}' };
  if (typeof v['version'] !== 'string') return { ok: false, message: 'Request.version must be a string' };
  if (typeof v['tee'] !== 'string') return { ok: false, message: 'Request.tee must be a string' };
  if (!('extra-params' in v)) return { ok: false, message: 'Request.extra-params is missing' };
  return { ok: true, value: { version: v['version'], tee: v['tee'] } };
}

const INIT_DATA_ALGORITHMS: Record<string, 'sha256' | 'sha384' | 'sha512'> = { sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' };

/** init-data digest per its TOML `algorithm` (default sha384), as trustee binds it to MRCONFIGID. */
function initDataDigest(body: string): Parsed<Buffer> {
  const m = /^\s*algorithm\s*=\s*"([^"]*)"/m.exec(body);
  const algorithm = m ? INIT_DATA_ALGORITHMS[m[1]!] : 'sha384';
  if (!algorithm) return { ok: false, message: 'init-data algorithm must be sha256, sha384 or sha512' };
  return { ok: true, value: createHash(algorithm).update(body, 'utf8').digest() };
}

export function parseAttestation(v: unknown): Parsed<AttestationMessage> {
  if (!isObject(v)) return { ok: false, message: 'Attestation must be a JSON object' };
  const rd = v['runtime-data'];
  if (!isObject(rd)) return { ok: false, message: 'Attestation.runtime-data must be an object {nonce, tee-pubkey}' };
  if (typeof rd['nonce'] !== 'string' || rd['nonce'].length > 1024) return { ok: false, message: 'runtime-data.nonce must be a string' };
  const key = parseTeePubKey(rd['tee-pubkey']);
  if (!key.ok) return { ok: false, message: `runtime-data.${key.message}` };
  const te = v['tee-evidence'];
  if (!isObject(te)) return { ok: false, message: 'Attestation.tee-evidence must be an object {primary_evidence, additional_evidence}' };
  if (!('primary_evidence' in te) || te['primary_evidence'] === null) return { ok: false, message: 'tee-evidence.primary_evidence is missing' };
  if (typeof te['additional_evidence'] !== 'string') return { ok: false, message: 'tee-evidence.additional_evidence must be a string' };
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
    if (init['format'] !== 'toml') return { ok: false, message: `init-data format ${init['format'].slice(0, 16)} is not supported (only toml)` };
    const digest = initDataDigest(init['body']);
    if (!digest.ok) return digest;
    out.initData = { format: 'toml', body: init['body'], digest: digest.value };
  }
  return { ok: true, value: out };
}
