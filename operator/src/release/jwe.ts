// KBS-compatible JWE (kbs-types `Response`): flattened JSON with base64url-no-pad members, no `aad` member,
// A256GCM content encryption with AAD = ASCII(base64url(protected header)). The guest does not use the
// `protected` string it receives as AAD: it re-serializes the parsed header the way serde does (alg, enc,
// then the other members alphabetically, nested objects alphabetically). So the header is built by hand in
// exactly that layout, and `decryptKbsJwe` re-derives the AAD the same way the Rust client does.
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createSecretKey,
  createHash,
  diffieHellman,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  constants,
  type KeyObject,
} from 'node:crypto';
import { teeKeyToKeyObject, type TeePubKey } from '../protocol/tee-key.ts';

export interface KbsJwe {
  protected: string;
  encrypted_key: string;
  iv: string;
  ciphertext: string;
  tag: string;
}

export type JweErrorCode = 'UnsupportedTeeKey' | 'Malformed' | 'UnsupportedAlgorithm' | 'KeyMismatch' | 'DecryptFailed';

export class JweError extends Error {
  readonly code: JweErrorCode;
  constructor(code: JweErrorCode, message: string) {
    super(message);
    this.name = 'JweError';
    this.code = code;
  }
}

const ECDH_ES_A256KW = 'ECDH-ES+A256KW';
const RSA_OAEP_256 = 'RSA-OAEP-256';
const A256GCM = 'A256GCM';
const KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
const B64URL = /^[A-Za-z0-9_-]*$/;
const SUPPORTED_CURVES = new Set(['P-256', 'P-521']);

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/** RFC 7518 §4.6 Concat KDF (SHA-256) for ECDH-ES+A256KW with empty apu/apv; 256 bits need one round. */
export function concatKdfA256KW(z: Buffer): Buffer {
  const alg = Buffer.from(ECDH_ES_A256KW, 'ascii');
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return createHash('sha256').update(Buffer.concat([u32(1), z, u32(alg.length), alg, u32(0), u32(0), u32(256)])).digest();
}

/** The header JSON exactly as serde re-serializes kbs-types `ProtectedHeader`: alg, enc, then sorted members. */
export function serdeProtectedHeaderJson(header: { alg: string; enc: string; [k: string]: unknown }): string {
  const sorted = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(sorted).join(',')}]`;
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${sorted(o[k])}`).join(',')}}`;
    }
    return JSON.stringify(v) ?? 'null';
  };
  const rest = Object.keys(header).filter((k) => k !== 'alg' && k !== 'enc').sort();
  const parts = [`"alg":${JSON.stringify(header.alg)}`, `"enc":${JSON.stringify(header.enc)}`, ...rest.map((k) => `${JSON.stringify(k)}:${sorted(header[k])}`)];
  return `{${parts.join(',')}}`;
}

function seal(protectedJson: string, encryptedKey: Buffer, cek: Buffer, plaintext: Uint8Array): KbsJwe {
  const protectedB64 = Buffer.from(protectedJson, 'utf8').toString('base64url');
  const iv = randomBytes(12);
  // A KeyObject key: node:crypto takes 2-3× longer per cipher when handed a raw Buffer key (measured, bench:kbs).
  const cipher = createCipheriv('aes-256-gcm', createSecretKey(cek), iv);
  cipher.setAAD(Buffer.from(protectedB64, 'ascii'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { protected: protectedB64, encrypted_key: b64u(encryptedKey), iv: b64u(iv), ciphertext: b64u(ciphertext), tag: b64u(cipher.getAuthTag()) };
}

/** Encrypts `plaintext` to a TEE key (EC P-256/P-521 → ECDH-ES+A256KW, RSA → RSA-OAEP-256), content A256GCM. */
export function encryptToTeeKey(teeKey: TeePubKey, plaintext: Uint8Array): KbsJwe {
  const cek = randomBytes(32);
  if (teeKey.kty === 'EC') {
    if (teeKey.alg !== ECDH_ES_A256KW || !SUPPORTED_CURVES.has(teeKey.crv)) {
      throw new JweError('UnsupportedTeeKey', `EC TEE key must be alg ${ECDH_ES_A256KW} on P-256 or P-521 (got ${teeKey.alg} on ${teeKey.crv})`);
    }
    // Raw-point ECDH (node:crypto ECDH) avoids KeyObject import/export on this hot path; computeSecret
    // rejects points that are not on the curve.
    const eph = createECDH(teeKey.crv === 'P-256' ? 'prime256v1' : 'secp521r1');
    const pub = eph.generateKeys();
    let z: Buffer;
    try {
      z = eph.computeSecret(Buffer.concat([Buffer.from([4]), Buffer.from(teeKey.x, 'base64url'), Buffer.from(teeKey.y, 'base64url')]));
    } catch {
      throw new JweError('UnsupportedTeeKey', 'TEE key is not a valid point on its curve');
    }
    const wrap = createCipheriv('id-aes256-wrap', createSecretKey(concatKdfA256KW(z)), KW_IV);
    const encryptedKey = Buffer.concat([wrap.update(cek), wrap.final()]);
    const coord = (pub.length - 1) / 2;
    const epk = { crv: teeKey.crv, kty: 'EC', x: b64u(pub.subarray(1, 1 + coord)), y: b64u(pub.subarray(1 + coord)) };
    return seal(serdeProtectedHeaderJson({ alg: ECDH_ES_A256KW, enc: A256GCM, epk }), encryptedKey, cek, plaintext);
  }
  if (teeKey.alg !== RSA_OAEP_256) throw new JweError('UnsupportedTeeKey', `RSA TEE key must be alg ${RSA_OAEP_256} (got ${teeKey.alg})`);
  const encryptedKey = publicEncrypt({ key: teeKeyToKeyObject(teeKey), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
  return seal(serdeProtectedHeaderJson({ alg: RSA_OAEP_256, enc: A256GCM }), encryptedKey, cek, plaintext);
}

function field(o: Record<string, unknown>, name: string, bytes?: number): Buffer {
  const v = o[name];
  if (typeof v !== 'string' || !B64URL.test(v)) throw new JweError('Malformed', `JWE member ${name} must be a base64url (no padding) string`);
  const b = Buffer.from(v, 'base64url');
  if (bytes !== undefined && b.length !== bytes) throw new JweError('Malformed', `JWE member ${name} must decode to ${bytes} bytes`);
  return b;
}

function unwrapEcdh(header: Record<string, unknown>, encryptedKey: Buffer, privateKey: KeyObject): Buffer {
  const epk = header['epk'];
  if (typeof epk !== 'object' || epk === null) throw new JweError('Malformed', 'protected header has no epk object');
  const e = epk as Record<string, unknown>;
  const own = privateKey.asymmetricKeyDetails?.namedCurve;
  const ownCrv = own === 'prime256v1' ? 'P-256' : own === 'secp521r1' ? 'P-521' : own === 'secp384r1' ? 'P-384' : undefined;
  if (ownCrv === undefined || e['kty'] !== 'EC' || e['crv'] !== ownCrv) throw new JweError('KeyMismatch', `epk curve ${String(e['crv'])} does not match the TEE key curve ${String(ownCrv)}`);
  let z: Buffer;
  try {
    const pub = teeKeyToKeyObject({ kty: 'EC', crv: ownCrv, alg: ECDH_ES_A256KW, x: String(e['x']), y: String(e['y']) });
    z = diffieHellman({ privateKey, publicKey: pub });
  } catch {
    throw new JweError('Malformed', 'epk is not a valid point on the TEE key curve');
  }
  try {
    const unwrap = createDecipheriv('id-aes256-wrap', concatKdfA256KW(z), KW_IV);
    return Buffer.concat([unwrap.update(encryptedKey), unwrap.final()]);
  } catch {
    throw new JweError('DecryptFailed', 'AES key unwrap failed (wrong TEE key or tampered encrypted_key)');
  }
}

/** Guest-side decryption of a KBS JWE with the TEE private key, re-deriving the AAD like the Rust client. */
export function decryptKbsJwe(jwe: unknown, privateKey: KeyObject): Buffer {
  if (typeof jwe !== 'object' || jwe === null || Array.isArray(jwe)) throw new JweError('Malformed', 'JWE must be a JSON object');
  const o = jwe as Record<string, unknown>;
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(field(o, 'protected').toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof JweError) throw err;
    throw new JweError('Malformed', 'protected header is not base64url JSON');
  }
  if (typeof header !== 'object' || header === null || typeof header['alg'] !== 'string' || typeof header['enc'] !== 'string') {
    throw new JweError('Malformed', 'protected header must have string alg and enc');
  }
  if (header['enc'] !== A256GCM) throw new JweError('UnsupportedAlgorithm', `enc ${String(header['enc'])} is not supported (only ${A256GCM})`);
  const aad = Buffer.from(Buffer.from(serdeProtectedHeaderJson(header as { alg: string; enc: string }), 'utf8').toString('base64url'), 'ascii');
  const encryptedKey = field(o, 'encrypted_key');
  const iv = field(o, 'iv', 12);
  const tag = field(o, 'tag', 16);
  const ciphertext = field(o, 'ciphertext');
  let cek: Buffer;
  if (header['alg'] === ECDH_ES_A256KW) cek = unwrapEcdh(header, encryptedKey, privateKey);
  else if (header['alg'] === RSA_OAEP_256) {
    try {
      cek = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, encryptedKey);
    } catch {
      throw new JweError('DecryptFailed', 'RSA-OAEP-256 decryption of the content key failed');
    }
  } else throw new JweError('UnsupportedAlgorithm', `alg ${String(header['alg'])} is not supported`);
  if (cek.length !== 32) throw new JweError('DecryptFailed', 'content key is not 32 bytes');
  try {
    const decipher = createDecipheriv('aes-256-gcm', cek, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new JweError('DecryptFailed', 'A256GCM authentication failed (tampered ciphertext, tag or header)');
  }
}
