import { describe, expect, it } from 'vitest';
import { MerkleTree } from '../../../test/support/rekor-log/merkle-tree.ts';
import { RefValuesError } from './errors.ts';
import { leafHash, nodeHash, verifyConsistency, verifyInclusion } from './merkle.ts';

const tree = new MerkleTree();
for (let i = 0; i < 21; i++) tree.append(Buffer.from(`leaf ${i}`));
const reason = (f: () => void): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return e instanceof RefValuesError ? e.reason : `unexpected ${String(e)}`;
  }
};

describe('RFC 6962 inclusion proofs', () => {
  it('matches the RFC hashing rules on a 3-leaf tree', () => {
    const t = new MerkleTree();
    ['a', 'b', 'c'].forEach((x) => t.append(Buffer.from(x)));
    const [a, b, c] = ['a', 'b', 'c'].map((x) => leafHash(Buffer.from(x)));
    expect(t.root().equals(nodeHash(nodeHash(a!, b!), c!))).toBe(true);
  });

  it('verifies every leaf of every tree size up to 21', () => {
    for (let n = 1; n <= 21; n++) {
      for (let m = 0; m < n; m++) {
        const r = reason(() => verifyInclusion(BigInt(m), BigInt(n), tree.leafHash(m), tree.inclusionProof(m, n), tree.root(n)));
        expect(r, `m=${m} n=${n}`).toBe('ok');
      }
    }
  });

  it('rejects a flipped proof hash, a wrong index, a wrong size, a short and a long proof', () => {
    const proof = tree.inclusionProof(5, 21);
    const flipped = proof.map((p, i) => (i === 1 ? Buffer.from(p.map((b, j) => (j === 0 ? b ^ 1 : b))) : p));
    const root = tree.root(21);
    const leaf = tree.leafHash(5);
    expect(reason(() => verifyInclusion(5n, 21n, leaf, flipped, root))).toBe('InclusionProofInvalid');
    expect(reason(() => verifyInclusion(4n, 21n, leaf, proof, root))).toBe('InclusionProofInvalid');
    expect(reason(() => verifyInclusion(5n, 16n, leaf, proof, root))).toBe('InclusionProofInvalid');
    expect(reason(() => verifyInclusion(5n, 21n, leaf, proof.slice(1), root))).toBe('InclusionProofInvalid');
    expect(reason(() => verifyInclusion(5n, 21n, leaf, [...proof, root], root))).toBe('InclusionProofInvalid');
    expect(reason(() => verifyInclusion(21n, 21n, leaf, proof, root))).toBe('InclusionProofInvalid');
    expect(reason(() => verifyInclusion(-1n, 21n, leaf, proof, root))).toBe('InclusionProofInvalid');
  });
});

describe('RFC 6962 consistency proofs', () => {
  it('verifies every pair of sizes up to 21', () => {
    for (let n = 1; n <= 21; n++) {
      for (let m = 1; m <= n; m++) {
        const r = reason(() => verifyConsistency(BigInt(m), BigInt(n), tree.consistencyProof(m, n), tree.root(m), tree.root(n)));
        expect(r, `m=${m} n=${n}`).toBe('ok');
      }
    }
  });

  it('detects a forked history', () => {
    const fork = new MerkleTree();
    for (let i = 0; i < 21; i++) fork.append(Buffer.from(i === 3 ? 'evil' : `leaf ${i}`));
    // The old checkpoint was of the honest tree at size 7; the fork serves its own proof to size 21.
    expect(reason(() => verifyConsistency(7n, 21n, fork.consistencyProof(7, 21), tree.root(7), fork.root(21)))).toBe('LogInconsistent');
    expect(reason(() => verifyConsistency(8n, 8n, [], tree.root(8), fork.root(8)))).toBe('LogInconsistent');
  });

  it('rejects shrinking trees, wrong proof lengths and tampered hashes', () => {
    const p = tree.consistencyProof(6, 13);
    expect(reason(() => verifyConsistency(13n, 6n, p, tree.root(13), tree.root(6)))).toBe('LogInconsistent');
    expect(reason(() => verifyConsistency(6n, 13n, p.slice(1), tree.root(6), tree.root(13)))).toBe('LogInconsistent');
    expect(reason(() => verifyConsistency(6n, 13n, [...p, tree.root(6)], tree.root(6), tree.root(13)))).toBe('LogInconsistent');
    expect(reason(() => verifyConsistency(6n, 13n, [], tree.root(6), tree.root(13)))).toBe('LogInconsistent');
    const tampered = p.map((x, i) => (i === p.length - 1 ? Buffer.alloc(32) : x));
    expect(reason(() => verifyConsistency(6n, 13n, tampered, tree.root(6), tree.root(13)))).toBe('LogInconsistent');
    expect(reason(() => verifyConsistency(6n, 13n, p, tree.root(6), tree.root(12)))).toBe('LogInconsistent');
  });
});
