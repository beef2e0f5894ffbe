import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { derToRawSignature, rawToDerSignature, signRawEcdsa, trustedEcPublicKey, verifyRawEcdsa, type EcdsaCoordinateBytes } from './ecdsa-signature.ts';

const CURVES: Array<[string, 'sha256' | 'sha384', EcdsaCoordinateBytes]> = [
  ['prime256v1', 'sha256', 32],
  ['secp384r1', 'sha384', 48],
  ['secp521r1', 'sha384', 66],
];

describe('raw ECDSA signatures through DER', () => {
  for (const [curve, hash, size] of CURVES) {
    it(`${curve}: agrees with node:crypto's ieee-p1363 form both ways, including r or s with leading zero bytes`, () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      let shortHalf = 0;
      // 1 signature in ~128 has a half with a leading zero byte (DER drops it): sign until 3 were seen.
      for (let i = 0; i < 100 || (shortHalf < 3 && i < 20_000); i++) {
        const data = Buffer.from(`message ${i}`);
        const ours = signRawEcdsa(hash, data, privateKey, size);
        expect(ours.length).toBe(2 * size);
        expect(verify(hash, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, ours)).toBe(true);
        const theirs = sign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        expect(verifyRawEcdsa(hash, data, publicKey, theirs, size)).toBe(true);
        const der = sign(hash, data, privateKey);
        expect(Buffer.from(rawToDerSignature(derToRawSignature(der, size)))).toEqual(der);
        if (ours[0] === 0 || ours[size] === 0) shortHalf++;
      }
      expect(shortHalf).toBeGreaterThanOrEqual(3);
    });
  }

  it('refuses a signature of the wrong length, a flipped bit and another key, without throwing', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    const data = Buffer.from('payload');
    const sig = signRawEcdsa('sha256', data, privateKey, 32);
    expect(verifyRawEcdsa('sha256', data, publicKey, sig, 32)).toBe(true);
    expect(verifyRawEcdsa('sha256', data, publicKey, sig.subarray(0, 63), 32)).toBe(false);
    expect(verifyRawEcdsa('sha256', data, publicKey, Buffer.concat([sig, Buffer.alloc(2)]), 32)).toBe(false);
    expect(verifyRawEcdsa('sha256', data, publicKey, Buffer.alloc(0), 32)).toBe(false);
    expect(verifyRawEcdsa('sha256', data, publicKey, Buffer.alloc(64), 32)).toBe(false); // r = s = 0
    // A P-256 signature zero-extended to P-384's length is not an ES384 signature, and P-256 keys sign ES256 only.
    expect(verifyRawEcdsa('sha384', data, publicKey, signRawEcdsa('sha384', data, privateKey, 32), 48)).toBe(false);
    expect(verifyRawEcdsa('sha256', data, publicKey, Buffer.concat([Buffer.alloc(16), sig.subarray(0, 32), Buffer.alloc(16), sig.subarray(32)]), 48)).toBe(false);
    const flipped = Buffer.from(sig);
    flipped[40]! ^= 1;
    expect(verifyRawEcdsa('sha256', data, publicKey, flipped, 32)).toBe(false);
    expect(verifyRawEcdsa('sha256', data, other, sig, 32)).toBe(false);
    expect(verifyRawEcdsa('sha256', Buffer.from('payloae'), publicKey, sig, 32)).toBe(false);
  });

  it('derToRawSignature rejects malformed DER with a reason', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const der = sign('sha256', Buffer.from('x'), privateKey);
    expect(() => derToRawSignature(Buffer.concat([der, Buffer.from([0])]), 32)).toThrow(/length does not match/);
    expect(() => derToRawSignature(Buffer.from([0x31, ...der.subarray(1)]), 32)).toThrow(/not a SEQUENCE/);
    expect(() => derToRawSignature(der.subarray(0, der.length - 1), 32)).toThrow(RangeError);
    expect(() => derToRawSignature(Buffer.from([0x30, 0x81, 0x06, 2, 1, 1, 2, 1, 1]), 32)).toThrow(/not minimal/);
    expect(() => derToRawSignature(Buffer.from([0x30, 0x06, 4, 1, 1, 2, 1, 1]), 32)).toThrow(/not an INTEGER/);
    expect(() => derToRawSignature(Buffer.from([0x30, 0x07, 2, 1, 1, 2, 1, 1, 0]), 32)).toThrow(/trailing bytes/);
    expect(() => derToRawSignature(Buffer.from([0x30, 0x26, 2, 0x21, 1, ...Buffer.alloc(32, 1), 2, 1, 1]), 32)).toThrow(/longer than 32/);
    expect(() => derToRawSignature(Buffer.from([0x30, 0x04, 2, 0, 2, 0]), 32)).toThrow(/truncated/);
    expect(derToRawSignature(Buffer.from([0x30, 0x06, 2, 1, 5, 2, 1, 7]), 32)).toEqual(Buffer.concat([Buffer.alloc(31), Buffer.from([5]), Buffer.alloc(31), Buffer.from([7])]));
  });

  it('rawToDerSignature uses the long length form past 127 bytes (P-521) and refuses odd or oversized input', () => {
    const raw = Buffer.alloc(132, 0xff);
    const der = rawToDerSignature(raw);
    expect([...der.subarray(0, 3)]).toEqual([0x30, 0x81, 2 * (2 + 67)]);
    expect(derToRawSignature(der, 66)).toEqual(raw);
    expect(() => rawToDerSignature(Buffer.alloc(63))).toThrow(RangeError);
    expect(() => rawToDerSignature(Buffer.alloc(134))).toThrow(RangeError);
  });

  it('trustedEcPublicKey imports once per key and gives the same key for the same JWK', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwk = publicKey.export({ format: 'jwk' }) as { kty: 'EC'; crv: string; x: string; y: string };
    const a = trustedEcPublicKey(jwk);
    expect(trustedEcPublicKey({ ...jwk })).toBe(a);
    expect(a.equals(publicKey)).toBe(true);
  });
});
