// ECDSA signatures in the raw r‖s form that JWS (ES256/ES384), TDX quotes and SPDM use, signed and verified
// through node:crypto's DER form. node:crypto's `dsaEncoding: 'ieee-p1363'` option converts the key to a legacy
// EC_KEY on every call (OpenSSL 3), which costs more than the signature itself: measured on this project's
// machine, ES256 sign 59 µs with the option against 25 µs for DER plus the conversion here, and verify ~30 %
// slower. The conversions are a few dozen byte moves with strict DER checks.
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/** The coordinate size in bytes of a curve's raw signature half (P-256: 32, P-384: 48, P-521: 66). */
export type EcdsaCoordinateBytes = 32 | 48 | 66;

function pushLength(out: number[], n: number): void {
  if (n < 0x80) out.push(n);
  else out.push(0x81, n); // every ECDSA signature body up to P-521 fits one length byte
}

function pushInteger(out: number[], n: Uint8Array): void {
  let i = 0;
  while (i < n.length - 1 && n[i] === 0) i++;
  const pad = ((n[i] ?? 0) & 0x80) !== 0 ? 1 : 0;
  out.push(0x02);
  pushLength(out, n.length - i + pad);
  if (pad) out.push(0);
  for (; i < n.length; i++) out.push(n[i] ?? 0);
}

/** DER `SEQUENCE { r INTEGER, s INTEGER }` of a raw signature r‖s (two equal halves of at most 66 bytes). */
export function rawToDerSignature(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0 || raw.length > 132) throw new RangeError('a raw ECDSA signature is two equal halves of at most 66 bytes');
  const body: number[] = [];
  pushInteger(body, raw.subarray(0, raw.length / 2));
  pushInteger(body, raw.subarray(raw.length / 2));
  const out: number[] = [0x30];
  pushLength(out, body.length);
  return Uint8Array.from([...out, ...body]);
}

const CURVE_BYTES: Record<string, EcdsaCoordinateBytes> = { prime256v1: 32, secp384r1: 48, secp521r1: 66 };

/** Reads one DER length at `at`; returns [length, offset after it]. */
function readLength(der: Uint8Array, at: number): [number, number] {
  const first = der[at];
  if (first === undefined) throw new RangeError('DER signature is truncated');
  if (first < 0x80) return [first, at + 1];
  if (first !== 0x81 || (der[at + 1] ?? 0) < 0x80) throw new RangeError('DER signature length is not minimal');
  return [der[at + 1] ?? 0, at + 2];
}

/** The raw r‖s (each left-padded to `size` bytes) of a DER ECDSA signature node:crypto produced. */
export function derToRawSignature(der: Uint8Array, size: EcdsaCoordinateBytes): Buffer {
  if (der[0] !== 0x30) throw new RangeError('DER signature is not a SEQUENCE');
  const [seqLen, bodyAt] = readLength(der, 1);
  if (bodyAt + seqLen !== der.length) throw new RangeError('DER signature length does not match its SEQUENCE');
  const out = Buffer.alloc(2 * size);
  let at = bodyAt;
  for (let half = 0; half < 2; half++) {
    if (der[at] !== 0x02) throw new RangeError('DER signature member is not an INTEGER');
    const [len, valueAt] = readLength(der, at + 1);
    let value = der.subarray(valueAt, valueAt + len);
    if (value.length !== len || len === 0) throw new RangeError('DER signature INTEGER is truncated');
    if (value[0] === 0 && value.length > 1) value = value.subarray(1);
    if (value.length > size) throw new RangeError(`DER signature INTEGER is longer than ${size} bytes`);
    out.set(value, half * size + size - value.length);
    at = valueAt + len;
  }
  if (at !== der.length) throw new RangeError('DER signature has trailing bytes');
  return out;
}

/** ECDSA signature of `data` (hash `hash`) in raw r‖s form. */
export function signRawEcdsa(hash: 'sha256' | 'sha384', data: Uint8Array, key: KeyObject, size: EcdsaCoordinateBytes): Buffer {
  return derToRawSignature(sign(hash, data, key), size);
}

/**
 * Whether `raw` (r‖s, exactly 2 × `size` bytes as JWS and SPDM require) is a valid ECDSA signature over `data`;
 * false, never a throw, for a signature of another length.
 */
export function verifyRawEcdsa(hash: 'sha256' | 'sha384', data: Uint8Array, key: KeyObject, raw: Uint8Array, size: EcdsaCoordinateBytes): boolean {
  // The key's curve must be the one `size` names: DER drops leading zeros, so without this a P-256 signature
  // padded to 96 bytes would pass as ES384 (the p1363 option refused it by the key's order).
  if (raw.length !== 2 * size || CURVE_BYTES[key.asymmetricKeyDetails?.namedCurve ?? ''] !== size) return false;
  return verify(hash, data, key, rawToDerSignature(raw));
}

const importedKeys = new Map<string, KeyObject>();
const MAX_IMPORTED_KEYS = 64;

/**
 * The KeyObject of a trusted EC public JWK (the operator's own EAR/AS keys: a handful). Importing costs about
 * as much as a verify (OpenSSL 3 decoders and the point check), so imports are kept, bounded; never call this
 * with a key taken from a request.
 */
export function trustedEcPublicKey(jwk: { kty: 'EC'; crv: string; x: string; y: string }): KeyObject {
  const id = `${jwk.crv}.${jwk.x}.${jwk.y}`;
  let key = importedKeys.get(id);
  if (!key) {
    key = createPublicKey({ key: { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
    if (importedKeys.size >= MAX_IMPORTED_KEYS) importedKeys.clear();
    importedKeys.set(id, key);
  }
  return key;
}
