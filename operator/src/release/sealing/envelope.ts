// Sealed-credential envelope, version 1 (documented in docs/secret-release.md):
//
//   "CAIS" | 0x01 | keyId(32) | scopeDigest(32) | epk P-384 uncompressed(97) | iv(12) | ciphertext | tag(16)
//
// ECIES: ECDH(ephemeral, sealing key) → HKDF-SHA384(salt = keyId, info = label ‖ epk) → AES-256-GCM with
// AAD = header ‖ JCS(scope). The scope {namespace, name (Strict only), agents (sorted), resourcePath, mode}
// is bound through the AAD, so moving or editing the SealedCredential makes decryption fail; its digest is
// also in the clear header so a mismatch is reported as ScopeMismatch rather than as tampering.
import { createCipheriv, createDecipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { sealingKeyFromCertificate } from './keys.ts';
import type { SealingKeyring } from './keyring.ts';

export interface SealScope {
  namespace: string;
  /** Required for Strict; ignored for NamespaceWide. */
  name?: string;
  mode: 'Strict' | 'NamespaceWide';
  agents: string[];
  resourcePath: string;
}

export type UnsealCode = 'WrongKey' | 'Tampered' | 'ScopeMismatch' | 'Malformed';
export type UnsealResult = { ok: true; plaintext: Buffer; keyId: string } | { ok: false; code: UnsealCode; message: string };

const MAGIC = Buffer.from('CAIS', 'ascii');
const VERSION = 1;
const LABEL = Buffer.from('confidential-agent sealed credential v1', 'ascii');
const EPK_LEN = 97;
const HEADER_LEN = 4 + 1 + 32 + 32 + EPK_LEN + 12;
const TAG_LEN = 16;
const MAX_ENVELOPE = 1_048_576;

export class SealError extends Error {
  readonly code = 'InvalidSealInput';
}

/** The canonical scope bytes bound into the AAD. */
export function scopeBytes(scope: SealScope): Buffer {
  if (!scope.namespace) throw new SealError('scope.namespace is required');
  if (scope.mode === 'Strict' && !scope.name) throw new SealError('scope.name is required for Strict scope');
  const agents = [...new Set(scope.agents)].sort();
  const canonical = { v: VERSION, mode: scope.mode, namespace: scope.namespace, name: scope.mode === 'Strict' ? scope.name : null, agents, resourcePath: scope.resourcePath };
  return Buffer.from(canonicalize(canonical)!, 'utf8');
}

function kdf(z: Buffer, keyId: Buffer, epk: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha384', z, keyId, Buffer.concat([LABEL, epk]), 32));
}

/** Seals `plaintext` to the sealing certificate for `scope`; returns the base64 envelope. */
export function seal(certificatePem: string, plaintext: Uint8Array, scope: SealScope): string {
  const cert = sealingKeyFromCertificate(certificatePem);
  if (!cert.ok) throw new SealError(cert.message);
  return sealToKey(cert.publicKey, plaintext, scope);
}

export function sealToKey(publicKey: KeyObject, plaintext: Uint8Array, scope: SealScope): string {
  const scopeBin = scopeBytes(scope);
  const keyId = createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest();
  const eph = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const epk = eph.publicKey.export({ format: 'der', type: 'spki' }).subarray(-EPK_LEN);
  const iv = createHash('sha256').update(epk).update(keyId).digest().subarray(0, 12); // unique: fresh epk per seal
  const header = Buffer.concat([MAGIC, Buffer.from([VERSION]), keyId, createHash('sha256').update(scopeBin).digest(), epk, iv]);
  const cipher = createCipheriv('aes-256-gcm', kdf(diffieHellman({ privateKey: eph.privateKey, publicKey }), keyId, epk), iv);
  cipher.setAAD(Buffer.concat([header, scopeBin]));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, ct, cipher.getAuthTag()]).toString('base64');
}

/** Reads the key id an envelope was sealed to (for SealedCredential status), or undefined if malformed. */
export function envelopeKeyId(envelope: string): string | undefined {
  const b = decode(envelope);
  return b ? b.subarray(5, 37).toString('hex') : undefined;
}

function decode(envelope: string): Buffer | undefined {
  if (typeof envelope !== 'string' || envelope.length > MAX_ENVELOPE * 2 || !/^[A-Za-z0-9+/]+={0,2}$/.test(envelope)) return undefined;
  const b = Buffer.from(envelope, 'base64');
  if (b.length < HEADER_LEN + TAG_LEN || !b.subarray(0, 4).equals(MAGIC) || b[4] !== VERSION) return undefined;
  return b;
}

/** Opens an envelope with the keyring for the scope the SealedCredential claims. Messages never contain plaintext. */
export function unseal(envelope: string, keyring: SealingKeyring, scope: SealScope): UnsealResult {
  const b = decode(envelope);
  if (!b) return { ok: false, code: 'Malformed', message: 'encryptedData is not a version-1 sealed envelope (bad base64, magic, version or length)' };
  const keyId = b.subarray(5, 37);
  const key = keyring.find(keyId.toString('hex'));
  if (!key) return { ok: false, code: 'WrongKey', message: `sealed to key ${keyId.toString('hex').slice(0, 16)}…, which is not in the operator keyring` };
  let scopeBin: Buffer;
  try {
    scopeBin = scopeBytes(scope);
  } catch (err) {
    return { ok: false, code: 'ScopeMismatch', message: err instanceof Error ? err.message : 'invalid scope' };
  }
  if (!createHash('sha256').update(scopeBin).digest().equals(b.subarray(37, 69))) {
    return { ok: false, code: 'ScopeMismatch', message: 'the SealedCredential namespace/name/scope/resourcePath differ from what it was sealed for' };
  }
  const epk = b.subarray(69, 69 + EPK_LEN);
  const iv = b.subarray(69 + EPK_LEN, HEADER_LEN);
  let z: Buffer;
  try {
    const spkiPrefix = Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex');
    z = diffieHellman({ privateKey: key.privateKey, publicKey: createPublicKey({ key: Buffer.concat([spkiPrefix, epk]), format: 'der', type: 'spki' }) });
  } catch {
    return { ok: false, code: 'Tampered', message: 'the envelope ephemeral key is not a valid P-384 point' };
  }
  try {
    const d = createDecipheriv('aes-256-gcm', kdf(z, keyId, epk), iv);
    d.setAAD(Buffer.concat([b.subarray(0, HEADER_LEN), scopeBin]));
    d.setAuthTag(b.subarray(b.length - TAG_LEN));
    const plaintext = Buffer.concat([d.update(b.subarray(HEADER_LEN, b.length - TAG_LEN)), d.final()]);
    return { ok: true, plaintext, keyId: key.id };
  } catch {
    return { ok: false, code: 'Tampered', message: 'authenticated decryption failed: the ciphertext or its header was modified' };
  }
}
