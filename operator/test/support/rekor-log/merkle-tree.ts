// An RFC 6962 §2.1 Merkle tree that produces roots, audit paths and consistency proofs from its leaf list.
// Written from the RFC's recursive definitions (MTH, PATH, PROOF/SUBPROOF) so that it shares no code with the
// verifier it tests.
import { createHash } from 'node:crypto';

const h = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest();
};
const EMPTY = h();
/** Largest power of two strictly smaller than n (n > 1). */
const split = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

export class MerkleTree {
  readonly leaves: Buffer[] = [];
  private readonly cache = new Map<string, Buffer>();

  append(data: Uint8Array): number {
    this.leaves.push(Buffer.from(data));
    return this.leaves.length - 1;
  }

  get size(): number {
    return this.leaves.length;
  }

  leafHash(i: number): Buffer {
    return h(Buffer.of(0), this.leaves[i] as Buffer);
  }

  /** MTH(D[lo:hi]). */
  private mth(lo: number, hi: number): Buffer {
    const n = hi - lo;
    if (n === 0) return EMPTY;
    if (n === 1) return this.leafHash(lo);
    const key = `${lo}:${hi}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const k = split(n);
    const root = h(Buffer.of(1), this.mth(lo, lo + k), this.mth(lo + k, hi));
    this.cache.set(key, root);
    return root;
  }

  root(size = this.size): Buffer {
    return this.mth(0, size);
  }

  /** PATH(m, D[0:size]). */
  inclusionProof(m: number, size = this.size): Buffer[] {
    const path = (m: number, lo: number, hi: number): Buffer[] => {
      const n = hi - lo;
      if (n <= 1) return [];
      const k = split(n);
      return m < k ? [...path(m, lo, lo + k), this.mth(lo + k, hi)] : [...path(m - k, lo + k, hi), this.mth(lo, lo + k)];
    };
    return path(m, 0, size);
  }

  /** PROOF(m, D[0:size]). */
  consistencyProof(m: number, size = this.size): Buffer[] {
    const sub = (m: number, lo: number, hi: number, complete: boolean): Buffer[] => {
      const n = hi - lo;
      if (m === n) return complete ? [] : [this.mth(lo, hi)];
      const k = split(n);
      return m <= k ? [...sub(m, lo, lo + k, complete), this.mth(lo + k, hi)] : [...sub(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
    };
    if (m === 0 || m === size) return [];
    return sub(m, 0, size, true);
  }
}
