// The operator's sealing keys: P-384 ECDH key pairs, each published as a self-signed X.509 certificate
// (the artifact `cai seal` reads). P-384 rather than RSA-4096: key generation takes milliseconds instead of
// seconds (rotation and tests stay cheap on small nodes), envelopes are ~200 bytes of overhead instead of
// 512, and the security level (~192-bit) exceeds RSA-4096's (~140-bit). The key id is SHA-256 of the SPKI.
import { createHash, createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
// @peculiar/x509 resolves its ASN.1 providers through tsyringe, which needs the Reflect polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1]>;
const x509Crypto = webcrypto as unknown as X509Crypto;

export interface SealingKey {
  /** Hex SHA-256 of the public key's SubjectPublicKeyInfo DER. */
  id: string;
  privateKey: KeyObject;
  certificatePem: string;
  createdAt: string;
}

export const SEALING_CURVE = 'secp384r1';
const ALG = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as const;
const CERT_YEARS = 10;

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex');
}

/** Generates a sealing key and its self-signed certificate (CN names the key id so users can match status). */
export async function generateSealingKey(now: Date): Promise<SealingKey> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const id = keyIdOf(createPublicKey(privateKey));
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CERT_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=confidential-agent sealing key ${id.slice(0, 16)}, O=confidential-agent.io`,
    notBefore: now,
    notAfter,
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyAgreement | x509.KeyUsageFlags.digitalSignature, true),
    ],
  }, x509Crypto);
  return { id, privateKey, certificatePem: cert.toString('pem'), createdAt: now.toISOString() };
}

export type CertificateKey = { ok: true; publicKey: KeyObject; keyId: string; notAfter: Date } | { ok: false; message: string };

/** Extracts the P-384 public key from a sealing certificate PEM; refuses anything else. */
export function sealingKeyFromCertificate(pem: string): CertificateKey {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(pem);
  } catch {
    return { ok: false, message: 'not a PEM/DER X.509 certificate' };
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
  } catch {
    return { ok: false, message: 'certificate public key cannot be read' };
  }
  if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== SEALING_CURVE) {
    return { ok: false, message: 'certificate is not a confidential-agent sealing certificate (EC P-384 key expected)' };
  }
  return { ok: true, publicKey, keyId: keyIdOf(publicKey), notAfter: cert.notAfter };
}
