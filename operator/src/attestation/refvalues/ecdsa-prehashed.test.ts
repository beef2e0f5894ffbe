import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyEcdsaPrehashed } from './ecdsa-prehashed.ts';

describe('ECDSA verification over a precomputed digest', () => {
  const msg = Buffer.from('artifact bytes');
  for (const curve of ['P-256', 'P-384'] as const) {
    for (const hash of ['sha256', 'sha384'] as const) {
      it(`${curve} / ${hash}: accepts node:crypto signatures, rejects a changed digest or signature`, () => {
        const kp = generateKeyPairSync('ec', { namedCurve: curve });
        const sig = sign(hash, msg, kp.privateKey);
        const digest = createHash(hash).update(msg).digest();
        expect(verifyEcdsaPrehashed(kp.publicKey, digest, sig)).toBe(true);
        const d2 = Buffer.from(digest);
        d2.writeUInt8(d2.readUInt8(0) ^ 1, 0);
        expect(verifyEcdsaPrehashed(kp.publicKey, d2, sig)).toBe(false);
        const s2 = Buffer.from(sig);
        s2.writeUInt8(s2.readUInt8(s2.length - 1) ^ 1, s2.length - 1);
        expect(verifyEcdsaPrehashed(kp.publicKey, digest, s2)).toBe(false);
        expect(verifyEcdsaPrehashed(generateKeyPairSync('ec', { namedCurve: curve }).publicKey, digest, sig)).toBe(false);
      });
    }
  }
  it('returns false (never throws) on malformed signatures and unsupported keys', () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const digest = createHash('sha256').update(msg).digest();
    const n = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');
    const der = (r: Buffer, s: Buffer) => Buffer.concat([Buffer.of(0x30, r.length + s.length + 4, 0x02, r.length), r, Buffer.of(0x02, s.length), s]);
    for (const bad of [Buffer.alloc(0), Buffer.from('3000', 'hex'), der(Buffer.of(0), Buffer.of(1)), der(Buffer.concat([Buffer.of(0), n]), Buffer.of(1)), Buffer.from('300602010102010100', 'hex')]) {
      expect(verifyEcdsaPrehashed(kp.publicKey, digest, bad)).toBe(false);
    }
    const ed = generateKeyPairSync('ed25519');
    expect(verifyEcdsaPrehashed(ed.publicKey, digest, sign(null, msg, ed.privateKey))).toBe(false);
    expect(verifyEcdsaPrehashed(kp.privateKey, digest, sign('sha256', msg, kp.privateKey))).toBe(false);
  });
});
