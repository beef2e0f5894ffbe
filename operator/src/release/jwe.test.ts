import { flattenedDecrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { decryptKbsJwe, encryptToTeeKey, JweError, serdeProtectedHeaderJson } from './jwe.ts';
import { generateTeeKeyPair, type TeeKeyAlgorithm } from '../protocol/tee-key.ts';

const secret = Buffer.from('{"clientSecret":"s3cr3t-value"}');
const algorithms: TeeKeyAlgorithm[] = ['ECDH-ES+A256KW-P256', 'ECDH-ES+A256KW-P521', 'RSA-OAEP-256'];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof JweError ? err.code : 'other';
  }
  return undefined;
}

describe('KBS JWE', () => {
  for (const alg of algorithms) {
    it(`${alg}: guest decrypt and jose flattenedDecrypt both recover the plaintext`, async () => {
      const kp = generateTeeKeyPair(alg);
      const jwe = encryptToTeeKey(kp.publicKey, secret);
      expect(Object.keys(jwe)).toEqual(['protected', 'encrypted_key', 'iv', 'ciphertext', 'tag']);
      for (const v of Object.values(jwe)) expect(v).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decryptKbsJwe(jwe, kp.privateKey).equals(secret)).toBe(true);
      const viaJose = await flattenedDecrypt(jwe, kp.privateKey);
      expect(Buffer.from(viaJose.plaintext).equals(secret)).toBe(true);
    });
  }

  it('emits the protected header byte-exact: alg, enc, then alphabetical epk members', () => {
    const kp = generateTeeKeyPair();
    const header = Buffer.from(encryptToTeeKey(kp.publicKey, secret).protected, 'base64url').toString();
    expect(header).toMatch(/^\{"alg":"ECDH-ES\+A256KW","enc":"A256GCM","epk":\{"crv":"P-256","kty":"EC","x":"[A-Za-z0-9_-]{43}","y":"[A-Za-z0-9_-]{43}"\}\}$/);
    const rsa = generateTeeKeyPair('RSA-OAEP-256');
    expect(Buffer.from(encryptToTeeKey(rsa.publicKey, secret).protected, 'base64url').toString()).toBe('{"alg":"RSA-OAEP-256","enc":"A256GCM"}');
  });

  it('re-derives the AAD like the Rust client: a reordered header still decrypts for the guest, not for jose', async () => {
    const kp = generateTeeKeyPair();
    const jwe = encryptToTeeKey(kp.publicKey, secret);
    const h = JSON.parse(Buffer.from(jwe.protected, 'base64url').toString()) as { epk: Record<string, string> };
    const reordered = { epk: { y: h.epk['y'], x: h.epk['x'], kty: 'EC', crv: 'P-256' }, enc: 'A256GCM', alg: 'ECDH-ES+A256KW' };
    const moved = { ...jwe, protected: Buffer.from(JSON.stringify(reordered)).toString('base64url') };
    expect(decryptKbsJwe(moved, kp.privateKey).equals(secret)).toBe(true);
    await expect(flattenedDecrypt(moved, kp.privateKey)).rejects.toThrow();
    expect(serdeProtectedHeaderJson(reordered)).toBe(Buffer.from(jwe.protected, 'base64url').toString());
  });

  it('refuses tampering, a wrong key, unsupported algorithms and malformed members with codes', () => {
    const kp = generateTeeKeyPair();
    const jwe = encryptToTeeKey(kp.publicKey, secret);
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    expect(codeOf(() => decryptKbsJwe({ ...jwe, ciphertext: flip(jwe.ciphertext) }, kp.privateKey))).toBe('DecryptFailed');
    expect(codeOf(() => decryptKbsJwe({ ...jwe, tag: flip(jwe.tag) }, kp.privateKey))).toBe('DecryptFailed');
    expect(codeOf(() => decryptKbsJwe(jwe, generateTeeKeyPair().privateKey))).toBe('DecryptFailed');
    expect(codeOf(() => decryptKbsJwe(jwe, generateTeeKeyPair('ECDH-ES+A256KW-P521').privateKey))).toBe('KeyMismatch');
    expect(codeOf(() => decryptKbsJwe({ ...jwe, iv: 'AAAA' }, kp.privateKey))).toBe('Malformed');
    expect(codeOf(() => decryptKbsJwe({ ...jwe, tag: `${jwe.tag}=` }, kp.privateKey))).toBe('Malformed');
    expect(codeOf(() => decryptKbsJwe('nope', kp.privateKey))).toBe('Malformed');
    const a128 = Buffer.from('{"alg":"ECDH-ES+A256KW","enc":"A128GCM"}').toString('base64url');
    expect(codeOf(() => decryptKbsJwe({ ...jwe, protected: a128 }, kp.privateKey))).toBe('UnsupportedAlgorithm');
    expect(codeOf(() => encryptToTeeKey({ kty: 'RSA', alg: 'RSA1_5', n: 'x', e: 'AQAB' }, secret))).toBe('UnsupportedTeeKey');
    const offCurve = { kty: 'EC' as const, crv: 'P-256' as const, alg: 'ECDH-ES+A256KW', x: Buffer.alloc(32, 1).toString('base64url'), y: Buffer.alloc(32, 2).toString('base64url') };
    expect(codeOf(() => encryptToTeeKey(offCurve, secret))).toBe('UnsupportedTeeKey');
    expect(codeOf(() => encryptToTeeKey({ ...(kp.publicKey as { kty: 'EC'; x: string; y: string; crv: 'P-256' }), alg: 'ECDH-ES' }, secret))).toBe('UnsupportedTeeKey');
  });
});
