// The TEE public key as KBS 0.4.0 carries it (kbs-types `TeePubKey`, tagged by `kty`), its parser, and the
// conversions between it and node:crypto keys. The typed re-serialization matters: the runtime-data hash
// covers exactly these members, so unknown members are dropped just like serde does on the Rust side.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export type EcCurve = 'P-256' | 'P-384' | 'P-521';
export type TeePubKey =
  | { kty: 'EC'; crv: EcCurve; alg: string; x: string; y: string }
  | { kty: 'RSA'; alg: string; n: string; e: string };

export type TeeKeyAlgorithm = 'ECDH-ES+A256KW-P256' | 'ECDH-ES+A256KW-P521' | 'RSA-OAEP-256';

export interface TeeKeyPair {
  publicKey: TeePubKey;
  privateKey: KeyObject;
}

export type TeeKeyParse = { ok: true; key: TeePubKey } | { ok: false; message: string };

const B64URL = /^[A-Za-z0-9_-]*$/;
const COORD_BYTES: Record<EcCurve, number> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };

function str(o: Record<string, unknown>, field: string): string | undefined {
  const v = o[field];
  return typeof v === 'string' ? v : undefined;
}

/** Parses a `tee-pubkey` JSON value; returns only the typed members (order: kty first, as serde tags it). */
export function parseTeePubKey(value: unknown): TeeKeyParse {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, message: 'tee-pubkey must be a JSON object' };
  const o = value as Record<string, unknown>;
  const kty = str(o, 'kty');
  const alg = str(o, 'alg');
  if (alg === undefined || alg.length === 0 || alg.length > 64) return { ok: false, message: 'tee-pubkey.alg must be a non-empty string' };
  // The key is hashed as canonical JSON (RFC 8785), which has no encoding for a lone surrogate.
  if (!alg.isWellFormed()) return { ok: false, message: 'tee-pubkey.alg must be well-formed Unicode (no lone surrogates)' };
  if (kty === 'EC') {
    const crv = str(o, 'crv');
    const x = str(o, 'x');
    const y = str(o, 'y');
    if (crv !== 'P-256' && crv !== 'P-384' && crv !== 'P-521') return { ok: false, message: `tee-pubkey.crv must be P-256, P-384 or P-521` };
    for (const [name, c] of [['x', x], ['y', y]] as const) {
      if (c === undefined || !B64URL.test(c) || Buffer.from(c, 'base64url').length !== COORD_BYTES[crv]) {
        return { ok: false, message: `tee-pubkey.${name} must be ${COORD_BYTES[crv]} bytes of base64url` };
      }
    }
    return { ok: true, key: { kty, crv, alg, x: x!, y: y! } };
  }
  if (kty === 'RSA') {
    const n = str(o, 'n');
    const e = str(o, 'e');
    if (n === undefined || !B64URL.test(n) || n.length < 300 || n.length > 1400) return { ok: false, message: 'tee-pubkey.n must be a 2048..8192-bit base64url modulus' };
    if (e === undefined || !B64URL.test(e) || e.length === 0 || e.length > 12) return { ok: false, message: 'tee-pubkey.e must be a short base64url exponent' };
    return { ok: true, key: { kty, alg, n, e } };
  }
  return { ok: false, message: 'tee-pubkey.kty must be EC or RSA' };
}

/** node:crypto public key for a TEE key; throws only on keys parseTeePubKey already rejected or off-curve points. */
export function teeKeyToKeyObject(key: TeePubKey): KeyObject {
  if (key.kty === 'EC') return createPublicKey({ key: { kty: 'EC', crv: key.crv, x: key.x, y: key.y }, format: 'jwk' });
  return createPublicKey({ key: { kty: 'RSA', n: key.n, e: key.e }, format: 'jwk' });
}

/** A fresh TEE key pair, as the attestation-agent makes one per handshake (default P-256). */
export function generateTeeKeyPair(algorithm: TeeKeyAlgorithm = 'ECDH-ES+A256KW-P256'): TeeKeyPair {
  if (algorithm === 'RSA-OAEP-256') {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    return { publicKey: { kty: 'RSA', alg: 'RSA-OAEP-256', n: jwk.n!, e: jwk.e! }, privateKey };
  }
  const crv: EcCurve = algorithm === 'ECDH-ES+A256KW-P521' ? 'P-521' : 'P-256';
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: crv === 'P-256' ? 'prime256v1' : 'secp521r1' });
  const jwk = publicKey.export({ format: 'jwk' });
  return { publicKey: { kty: 'EC', crv, alg: 'ECDH-ES+A256KW', x: jwk.x!, y: jwk.y! }, privateKey };
}
