// RFC 6962 / RFC 9162 Merkle tree proof verification (inclusion §2.1.3.2, consistency §2.1.4.2).
// @sigstore/verify has inclusion only, and not as public API; consistency proofs are needed to notice a
// forked log, so both live here. Pure functions: hashes in, boolean/throw out. BigInt keeps the bit
// arithmetic exact beyond 2^31 leaves.
import { createHash } from 'node:crypto';
import { RefValuesError } from './errors.ts';

export const leafHash = (data: Uint8Array): Buffer<ArrayBufferLike> => createHash('sha256').update(Buffer.of(0)).update(data).digest();
export const nodeHash = (left: Uint8Array, right: Uint8Array): Buffer<ArrayBufferLike> =>
  createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest();

const odd = (x: bigint) => (x & 1n) === 1n;

/** Root implied by an inclusion proof, or an error when the proof has the wrong shape. */
export function rootFromInclusionProof(index: bigint, size: bigint, leaf: Uint8Array, proof: readonly Uint8Array[]): Buffer<ArrayBufferLike> {
  if (index < 0n || index >= size) {
    throw new RefValuesError('InclusionProofInvalid', `inclusion proof: leaf index ${index} is outside tree size ${size}`);
  }
  let fn = index;
  let sn = size - 1n;
  let r: Buffer<ArrayBufferLike> = Buffer.from(leaf);
  for (const p of proof) {
    if (p.length !== 32) throw new RefValuesError('InclusionProofInvalid', 'inclusion proof: a hash is not 32 bytes');
    if (sn === 0n) throw new RefValuesError('InclusionProofInvalid', 'inclusion proof: too many hashes for the tree size');
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new RefValuesError('InclusionProofInvalid', 'inclusion proof: too few hashes for the tree size');
  return r;
}

/** Throws InclusionProofInvalid unless `leaf` is at `index` in the tree of `size` with root `root`. */
export function verifyInclusion(index: bigint, size: bigint, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): void {
  const computed = rootFromInclusionProof(index, size, leaf, proof);
  if (!computed.equals(root)) {
    throw new RefValuesError('InclusionProofInvalid', 'inclusion proof: computed root hash does not match the checkpoint root hash');
  }
}

/**
 * Throws LogInconsistent unless the tree (size2, root2) is an append-only extension of (size1, root1).
 * The proof is the RFC 6962 PROOF(size1, D[size2]) as served by Rekor's /api/v1/log/proof.
 */
export function verifyConsistency(
  size1: bigint,
  size2: bigint,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  const bad = (why: string): never => {
    throw new RefValuesError('LogInconsistent', `consistency ${size1} -> ${size2}: ${why}`);
  };
  if (size1 < 0n || size2 < 0n) bad('negative tree size');
  if (size1 > size2) bad('the new tree is smaller than the last verified one');
  if (proof.some((p) => p.length !== 32)) bad('a proof hash is not 32 bytes');
  if (size1 === size2) {
    if (proof.length !== 0) bad('proof must be empty for equal sizes');
    if (!Buffer.from(root1).equals(root2)) bad('same tree size but different root hashes (forked log)');
    return;
  }
  if (size1 === 0n) {
    if (proof.length !== 0) bad('proof must be empty from an empty tree');
    return;
  }
  if (proof.length === 0) bad('empty proof');
  // A first tree that is a complete subtree is its own first proof node.
  const path = (size1 & (size1 - 1n)) === 0n ? [root1, ...proof] : [...proof];
  let fn = size1 - 1n;
  let sn = size2 - 1n;
  while (odd(fn)) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr: Buffer<ArrayBufferLike> = Buffer.from(path[0] as Uint8Array);
  let sr: Buffer<ArrayBufferLike> = Buffer.from(path[0] as Uint8Array);
  for (const c of path.slice(1)) {
    if (sn === 0n) bad('too many proof hashes');
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) bad('too few proof hashes');
  if (!fr.equals(root1)) bad('proof does not reproduce the last verified root hash (forked log)');
  if (!sr.equals(root2)) bad('proof does not reproduce the new root hash');
}
