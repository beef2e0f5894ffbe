// The stored keyring parser and the sealing certificate, check by check: each bad input below fails exactly
// one check, with that check's message, so weakening any one of them is visible (mutation testing).
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { createKeyring, KeyringFormatError, parseKeyring, SealingKeyring, serializeKeyring } from './keyring.ts';
import { generateSealingKey, sealingKeyFromCertificate, type SealingKey } from './keys.ts';

const now = new Date('2026-12-04T10:00:00Z');
type Stored = { version: unknown; keys: Array<Record<string, unknown>> };
let stored: Stored;
let text: string;

beforeAll(async () => {
  text = serializeKeyring(await createKeyring(now));
  stored = JSON.parse(text) as Stored;
});

const edited = (edit: (d: Stored) => void) => {
  const d = structuredClone(stored);
  edit(d);
  return JSON.stringify(d);
};
const parseError = (t: string): unknown => {
  try {
    parseKeyring(t);
  } catch (e) {
    return e;
  }
  return 'parsed';
};
const SHAPE = 'stored keyring must be {"version":1,"keys":[...]} with at least one key';
const FIELDS = 'keys[0] must have string id, createdAt, certificatePem, privateKeyPem';
const TOGETHER = 'keys[0] id, private key and certificate do not belong together';

describe('parseKeyring', () => {
  it('round-trips; errors are KeyringFormatError with code KeyringMalformed', () => {
    expect(parseKeyring(text).activeKeyId).toBe(stored.keys[0]!['id']);
    expect(parseError('{')).toBeInstanceOf(KeyringFormatError);
    expect(parseError('{')).toMatchObject({ code: 'KeyringMalformed', message: 'stored keyring is not JSON' });
  });

  it.each([
    ['null', () => 'null'],
    ['version 2', () => edited((d) => (d.version = 2))],
    ['keys not an array', () => edited((d) => ((d as unknown as { keys: unknown }).keys = { length: 1 }))],
    ['no keys', () => edited((d) => (d.keys = []))],
  ])('document shape: %s', (_label, t) => {
    expect(parseError(t())).toMatchObject({ name: 'Error', code: 'KeyringMalformed', message: SHAPE });
  });

  it.each(['id', 'createdAt', 'certificatePem', 'privateKeyPem'])('a non-string %s', (field) => {
    expect(parseError(edited((d) => (d.keys[0]![field] = 7)))).toMatchObject({ code: 'KeyringMalformed', message: FIELDS });
  });

  it('a private key that is not P-384, a stored id that is not the key, a certificate of another key', async () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(parseError(edited((d) => (d.keys[0]!['privateKeyPem'] = p256)))).toMatchObject({ message: 'keys[0] is not a P-384 key' });
    expect(parseError(edited((d) => (d.keys[0]!['privateKeyPem'] = 'junk')))).toMatchObject({ message: 'keys[0].privateKeyPem is not a PKCS#8 private key' });
    expect(parseError(edited((d) => (d.keys[0]!['id'] = 'ab'.repeat(32))))).toMatchObject({ message: TOGETHER });
    const other = await generateSealingKey(now);
    expect(parseError(edited((d) => (d.keys[0]!['certificatePem'] = other.certificatePem)))).toMatchObject({ message: TOGETHER });
    expect(parseError(edited((d) => (d.keys[0]!['certificatePem'] = 'junk')))).toMatchObject({ message: TOGETHER });
  });
});

describe('SealingKeyring', () => {
  it('needs a key; the newest key is active whatever the order given', async () => {
    expect(() => new SealingKeyring([])).toThrow('a keyring needs at least one key');
    const old = await generateSealingKey(now);
    const newer = await generateSealingKey(new Date(now.getTime() + 60_000));
    const k = new SealingKeyring([old, newer] as SealingKey[]);
    expect(k.activeKeyId).toBe(newer.id);
    expect(k.keys.map((x) => x.id)).toEqual([newer.id, old.id]);
    expect(new SealingKeyring([newer, old]).activeKeyId).toBe(newer.id);
  });
});

describe('sealing certificate', () => {
  it('ten years from creation, CN names the key id, an end-entity certificate for key agreement, positive serial', async () => {
    for (let i = 0; i < 24; i++) {
      const key = await generateSealingKey(now);
      const cert = new x509.X509Certificate(key.certificatePem);
      expect(parseInt(cert.serialNumber[0]!, 16)).toBeLessThan(8); // DER INTEGER stays positive
      if (i > 0) continue;
      const parsed = sealingKeyFromCertificate(key.certificatePem);
      expect(parsed.ok && parsed.notAfter.toISOString()).toBe('2036-12-04T10:00:00.000Z');
      expect(cert.subject).toBe(`CN=confidential-agent sealing key ${key.id.slice(0, 16)}, O=confidential-agent.io`);
      const bc = cert.getExtension(x509.BasicConstraintsExtension);
      expect([bc?.ca, bc?.critical]).toEqual([false, true]);
      const ku = cert.getExtension(x509.KeyUsagesExtension);
      expect([ku?.usages, ku?.critical]).toEqual([x509.KeyUsageFlags.keyAgreement | x509.KeyUsageFlags.digitalSignature, true]);
    }
  });

  it('refuses a certificate whose key is not EC P-384 (RSA, P-256)', async () => {
    const crypto = webcrypto as unknown as NonNullable<Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1]>;
    const algs = [
      { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    ];
    for (const alg of algs) {
      const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=not a sealing key', notBefore: now, notAfter: new Date(now.getTime() + 86_400_000), keys, signingAlgorithm: alg }, crypto);
      expect(sealingKeyFromCertificate(cert.toString('pem'))).toEqual({ ok: false, message: 'certificate is not a confidential-agent sealing certificate (EC P-384 key expected)' });
    }
  });
});
