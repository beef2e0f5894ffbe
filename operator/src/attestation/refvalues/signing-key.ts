// Reading the P-256 keys that sign and verify reference-value statements: plain PEM (PKCS#8, SEC1, SPKI),
// PKCS#8 encrypted PEM, and the encrypted key files made by `cosign generate-key-pair`
// ("ENCRYPTED SIGSTORE PRIVATE KEY": JSON {kdf: scrypt, cipher: nacl/secretbox, ciphertext} around a
// PKCS#8 DER key). node:crypto has scrypt but no XSalsa20-Poly1305, so secretbox comes from @noble/ciphers.
import { createPrivateKey, createPublicKey, scryptSync, type KeyObject } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { RefValuesError } from './errors.ts';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM of the public key, as written to cosign.pub and into Rekor entries. */
  publicKeyPem: string;
}

const COSIGN_LABELS = ['ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY'];
const MAX_SCRYPT_N = 1 << 20; // cosign uses 2^15 (current) or 2^16; refuse absurd work factors

function pemBlock(text: string): { label: string; der: Buffer } | undefined {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) return undefined;
  return { label: m[1] as string, der: Buffer.from((m[2] as string).replace(/\s+/g, ''), 'base64') };
}

function requireP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new RefValuesError('KeyInvalid', `${what}: expected an ECDSA P-256 key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  }
}

interface CosignKeyFile {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

function isCosignKeyFile(x: unknown): x is CosignKeyFile {
  const o = x as CosignKeyFile | null;
  return (
    typeof o === 'object' && o !== null &&
    typeof o.kdf?.name === 'string' && typeof o.kdf.salt === 'string' &&
    Number.isInteger(o.kdf.params?.N) && Number.isInteger(o.kdf.params.r) && Number.isInteger(o.kdf.params.p) &&
    typeof o.cipher?.name === 'string' && typeof o.cipher.nonce === 'string' && typeof o.ciphertext === 'string'
  );
}

/** Decrypts a cosign key file body (the JSON inside the PEM) to PKCS#8 DER. */
export function decryptCosignKey(json: Buffer, password: string): Buffer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    throw new RefValuesError('KeyInvalid', 'cosign key: the PEM body is not JSON');
  }
  if (!isCosignKeyFile(parsed)) throw new RefValuesError('KeyInvalid', 'cosign key: missing kdf, cipher or ciphertext fields');
  const { kdf, cipher } = parsed;
  if (kdf.name !== 'scrypt') throw new RefValuesError('KeyInvalid', `cosign key: unsupported kdf '${kdf.name}'`);
  if (cipher.name !== 'nacl/secretbox') throw new RefValuesError('KeyInvalid', `cosign key: unsupported cipher '${cipher.name}'`);
  const { N, r, p } = kdf.params;
  if (N < 2 || N > MAX_SCRYPT_N || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) {
    throw new RefValuesError('KeyInvalid', `cosign key: scrypt parameters out of range (N=${N}, r=${r}, p=${p})`);
  }
  const nonce = Buffer.from(cipher.nonce, 'base64');
  if (nonce.length !== 24) throw new RefValuesError('KeyInvalid', 'cosign key: secretbox nonce must be 24 bytes');
  const key = scryptSync(Buffer.from(password, 'utf8'), Buffer.from(kdf.salt, 'base64'), 32, {
    N, r, p, maxmem: 256 * N * r + 1024 * 1024,
  });
  try {
    return Buffer.from(xsalsa20poly1305(key, nonce).decrypt(Buffer.from(parsed.ciphertext, 'base64')));
  } catch {
    throw new RefValuesError('KeyInvalid', 'cosign key: decryption failed (wrong password or corrupted key file)');
  }
}

/** Reads a P-256 private key from PEM text; `password` is used for encrypted formats ('' is cosign's default). */
export function loadSigningKey(pem: string, password = ''): SigningKey {
  const block = pemBlock(pem);
  if (!block) throw new RefValuesError('KeyInvalid', 'signing key: no PEM block found');
  let privateKey: KeyObject;
  try {
    if (COSIGN_LABELS.includes(block.label)) {
      privateKey = createPrivateKey({ key: decryptCosignKey(block.der, password), format: 'der', type: 'pkcs8' });
    } else if (block.label === 'ENCRYPTED PRIVATE KEY') {
      privateKey = createPrivateKey({ key: pem, format: 'pem', passphrase: password });
    } else if (block.label === 'PRIVATE KEY' || block.label === 'EC PRIVATE KEY') {
      privateKey = createPrivateKey({ key: pem, format: 'pem' });
    } else {
      throw new RefValuesError('KeyInvalid', `signing key: unsupported PEM type '${block.label}'`);
    }
  } catch (e) {
    if (e instanceof RefValuesError) throw e;
    throw new RefValuesError('KeyInvalid', `signing key: cannot read ${block.label} (${(e as Error).message})`);
  }
  requireP256(privateKey, 'signing key');
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Reads a P-256 public key (SPKI PEM, as in cosign.pub and AttestationPolicy spec.publicKey). */
export function loadPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new RefValuesError('KeyInvalid', `public key: not a PEM public key (${(e as Error).message})`);
  }
  requireP256(key, 'public key');
  return key;
}
