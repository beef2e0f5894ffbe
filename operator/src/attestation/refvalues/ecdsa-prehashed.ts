// ECDSA (P-256, P-384) verification over a digest the caller already computed, for
// `cai sigstore verify-bundle sha256:<hex>` on message-signature bundles: node:crypto only verifies over the
// message itself. Textbook SEC 1 §4.1.4 with BigInt (verification handles public data only, so constant
// time is not needed). Returns false on any malformed input; never throws.
import type { KeyObject } from 'node:crypto';

interface Curve {
  p: bigint;
  a: bigint;
  n: bigint;
  g: [bigint, bigint];
}
const P256: Curve = {
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
  n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  g: [0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n, 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n],
};
const P384: Curve = {
  p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
  a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
  n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  g: [
    0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
  ],
};
const CURVES: Record<string, Curve> = { prime256v1: P256, secp384r1: P384 };

type Point = [bigint, bigint] | null; // affine; null is the point at infinity
const mod = (x: bigint, m: bigint) => ((x % m) + m) % m;
function inv(x: bigint, m: bigint): bigint {
  let [a, b, u, v] = [mod(x, m), m, 1n, 0n];
  while (a !== 0n) {
    const q = b / a;
    [a, b, u, v] = [b - q * a, a, v - q * u, u];
  }
  return mod(v, m);
}
function add(c: Curve, P: Point, Q: Point): Point {
  if (!P) return Q;
  if (!Q) return P;
  if (P[0] === Q[0] && mod(P[1] + Q[1], c.p) === 0n) return null;
  const l = P[0] === Q[0] && P[1] === Q[1]
    ? mod((3n * P[0] * P[0] + c.a) * inv(2n * P[1], c.p), c.p)
    : mod((Q[1] - P[1]) * inv(Q[0] - P[0], c.p), c.p);
  const x = mod(l * l - P[0] - Q[0], c.p);
  return [x, mod(l * (P[0] - x) - P[1], c.p)];
}
function mul(c: Curve, k: bigint, P: Point): Point {
  let R: Point = null;
  for (let i = BigInt(k.toString(2).length) - 1n; i >= 0n; i--) {
    R = add(c, R, R);
    if ((k >> i) & 1n) R = add(c, R, P);
  }
  return R;
}
const big = (b: Uint8Array) => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));

/** r, s from a DER ECDSA-Sig-Value; undefined when malformed. */
function derSignature(sig: Buffer): [bigint, bigint] | undefined {
  if (sig.length < 8 || sig[0] !== 0x30 || sig[1] !== sig.length - 2) return undefined;
  const ints: bigint[] = [];
  let o = 2;
  for (let k = 0; k < 2; k++) {
    if (sig[o] !== 0x02) return undefined;
    const len = sig[o + 1] as number;
    if (len === 0 || len > 0x7f || o + 2 + len > sig.length) return undefined;
    ints.push(big(sig.subarray(o + 2, o + 2 + len)));
    o += 2 + len;
  }
  return o === sig.length ? [ints[0] as bigint, ints[1] as bigint] : undefined;
}

export function verifyEcdsaPrehashed(key: KeyObject, digest: Buffer, derSig: Buffer): boolean {
  try {
    const c = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!c || key.type !== 'public') return false;
    const jwk = key.export({ format: 'jwk' });
    const Q: Point = [big(Buffer.from(jwk.x ?? '', 'base64url')), big(Buffer.from(jwk.y ?? '', 'base64url'))];
    const rs = derSignature(derSig);
    if (!rs) return false;
    const [r, s] = rs;
    if (r <= 0n || r >= c.n || s <= 0n || s >= c.n) return false;
    const nBits = c.n.toString(2).length;
    let e = big(digest);
    if (digest.length * 8 > nBits) e >>= BigInt(digest.length * 8 - nBits);
    const w = inv(s, c.n);
    const X = add(c, mul(c, mod(e * w, c.n), c.g), mul(c, mod(r * w, c.n), Q));
    return X !== null && mod(X[0], c.n) === r;
  } catch {
    return false;
  }
}
