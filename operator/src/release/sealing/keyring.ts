// The sealing keyring: every key the operator ever created (newest first) so old SealedCredentials keep
// opening after rotation, like sealed-secrets; new seals use the active (newest) key's certificate.
// Serialized as versioned JSON for the Kubernetes Secret that stores it.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { generateSealingKey, keyIdOf, SEALING_CURVE, sealingKeyFromCertificate, type SealingKey } from './keys.ts';

export class SealingKeyring {
  readonly keys: readonly SealingKey[];

  constructor(keys: SealingKey[]) {
    if (keys.length === 0) throw new TypeError('a keyring needs at least one key');
    this.keys = [...keys].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  get active(): SealingKey {
    return this.keys[0]!;
  }

  /** PEM certificate of the active key: what `cai seal --cert` takes. */
  get certificatePem(): string {
    return this.active.certificatePem;
  }

  get activeKeyId(): string {
    return this.active.id;
  }

  find(id: string): SealingKey | undefined {
    return this.keys.find((k) => k.id === id);
  }
}

export async function createKeyring(now: Date): Promise<SealingKeyring> {
  return new SealingKeyring([await generateSealingKey(now)]);
}

/** A new active key; all previous keys stay for decryption. */
export async function rotateKeyring(keyring: SealingKeyring, now: Date): Promise<SealingKeyring> {
  return new SealingKeyring([await generateSealingKey(now), ...keyring.keys]);
}

interface StoredKey {
  id: string;
  createdAt: string;
  certificatePem: string;
  privateKeyPem: string;
}

export function serializeKeyring(keyring: SealingKeyring): string {
  const keys: StoredKey[] = keyring.keys.map((k) => ({
    id: k.id,
    createdAt: k.createdAt,
    certificatePem: k.certificatePem,
    privateKeyPem: k.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  }));
  return JSON.stringify({ version: 1, keys });
}

export class KeyringFormatError extends Error {
  readonly code = 'KeyringMalformed';
}

/** Parses a stored keyring, checking that each private key matches its id and certificate. */
export function parseKeyring(text: string): SealingKeyring {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new KeyringFormatError('stored keyring is not JSON');
  }
  const d = doc as { version?: unknown; keys?: unknown };
  if (typeof d !== 'object' || d === null || d.version !== 1 || !Array.isArray(d.keys) || d.keys.length === 0) {
    throw new KeyringFormatError('stored keyring must be {"version":1,"keys":[...]} with at least one key');
  }
  const keys = (d.keys as Partial<StoredKey>[]).map((k, i): SealingKey => {
    if (typeof k.id !== 'string' || typeof k.createdAt !== 'string' || typeof k.certificatePem !== 'string' || typeof k.privateKeyPem !== 'string') {
      throw new KeyringFormatError(`keys[${i}] must have string id, createdAt, certificatePem, privateKeyPem`);
    }
    let privateKey;
    try {
      privateKey = createPrivateKey(k.privateKeyPem);
    } catch {
      throw new KeyringFormatError(`keys[${i}].privateKeyPem is not a PKCS#8 private key`);
    }
    if (privateKey.asymmetricKeyDetails?.namedCurve !== SEALING_CURVE) throw new KeyringFormatError(`keys[${i}] is not a P-384 key`);
    const cert = sealingKeyFromCertificate(k.certificatePem);
    const id = keyIdOf(createPublicKey(privateKey));
    if (id !== k.id || !cert.ok || cert.keyId !== id) throw new KeyringFormatError(`keys[${i}] id, private key and certificate do not belong together`);
    return { id, privateKey, certificatePem: k.certificatePem, createdAt: k.createdAt };
  });
  return new SealingKeyring(keys);
}
