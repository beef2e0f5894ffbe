// The verification memo's two helpers: the collateral key (SHA-256 over the length-prefixed parts, cached per
// collateral object) and the bounded insertion that evicts the oldest entry.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { loadCollateralDir } from './collateral-dir.ts';
import type { TdxCollateral } from './collateral.ts';
import { collateralKey, createTdxMemo, remember } from './memo.ts';

const real = await loadCollateralDir(join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06'));
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

/** The documented key, computed independently: SHA-256 over (u32 big-endian byte length ‖ bytes) of each part in order. */
function expectedKey(c: TdxCollateral): string {
  const h = createHash('sha256');
  for (const part of [c.tcbInfoBody, c.tcbInfoIssuerChain, c.qeIdentityBody, c.qeIdentityIssuerChain, c.pckCrl, c.pckCrlIssuerChain, c.rootCaCrl]) {
    const b = typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  }
  return h.digest('hex');
}

describe('collateralKey', () => {
  it('is SHA-256 over the length-prefixed parts (UTF-8 byte lengths), with or without a memo', () => {
    const c = { ...real, tcbInfoIssuerChain: `${real.tcbInfoIssuerChain}é` };
    expect(collateralKey(undefined, c)).toBe(expectedKey(c));
    expect(collateralKey(createTdxMemo(), c)).toBe(expectedKey(c));
  });

  it('differs when any part differs, including where one part ends and the next begins', () => {
    const keys = new Set([
      collateralKey(undefined, real),
      collateralKey(undefined, { ...real, rootCaCrl: real.pckCrl }),
      // The same byte stream split differently (with zero bytes where a length prefix would be).
      collateralKey(undefined, { ...real, tcbInfoBody: bytes('a\0\0\0\0b'), tcbInfoIssuerChain: 'c' }),
      collateralKey(undefined, { ...real, tcbInfoBody: bytes('a'), tcbInfoIssuerChain: 'b\0\0\0\0c' }),
    ]);
    expect(keys.size).toBe(4);
  });

  it('is computed once per collateral object and then read from the memo', () => {
    const memo = createTdxMemo();
    const c = { ...real };
    const key = collateralKey(memo, c);
    expect(memo.collateralKeys.get(c)).toBe(key);
    memo.collateralKeys.set(c, 'remembered');
    expect(collateralKey(memo, c)).toBe('remembered');
  });
});

describe('remember', () => {
  it('keeps at most maxEntries, evicting the oldest insertion', () => {
    const memo = createTdxMemo(2);
    const map = new Map<string, number>();
    remember(memo, map, 'a', 1);
    remember(memo, map, 'b', 2);
    expect([...map.keys()]).toEqual(['a', 'b']);
    remember(memo, map, 'c', 3);
    expect([...map]).toEqual([['b', 2], ['c', 3]]);
  });
});
