// An explicit memo of verification results keyed by the bytes verified, passed in by the caller (never
// global state). Only successful, time-independent results are stored; every lookup still re-checks the
// validity windows against the verification time, so a memo never makes an expired item pass.
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { TdxCollateral, VerifiedCollateral } from './collateral.ts';
import type { Cert } from './x509.ts';
import type { VerifiedPck } from './pck.ts';

export interface TdxVerificationMemo {
  readonly maxEntries: number;
  readonly roots: Map<string, Cert>;
  readonly collateralKeys: WeakMap<TdxCollateral, string>;
  readonly collateral: Map<string, VerifiedCollateral>;
  /** Verified PCK chains by PEM, per collateral key. */
  readonly pckChains: Map<string, Map<string, VerifiedPck>>;
  /** Parsed P-256 attestation keys by their raw x‖y hex (a QE keeps its key across quotes). */
  readonly attestationKeys: Map<string, KeyObject>;
  /** Collateral lookup keys (FMSPC, CA type) read from a PCK chain PEM, before that chain is verified. */
  readonly collateralLookups: Map<string, { fmspc: string; caType: 'platform' | 'processor' }>;
}

export function createTdxMemo(maxEntries = 4096): TdxVerificationMemo {
  return { maxEntries, roots: new Map(), collateralKeys: new WeakMap(), collateral: new Map(), pckChains: new Map(), attestationKeys: new Map(), collateralLookups: new Map() };
}

/** SHA-256 over every collateral part (length-prefixed), computed once per collateral object. */
export function collateralKey(memo: TdxVerificationMemo | undefined, c: TdxCollateral): string {
  const known = memo?.collateralKeys.get(c);
  if (known) return known;
  const h = createHash('sha256');
  for (const part of [c.tcbInfoBody, c.tcbInfoIssuerChain, c.qeIdentityBody, c.qeIdentityIssuerChain, c.pckCrl, c.pckCrlIssuerChain, c.rootCaCrl]) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    h.update(len).update(bytes);
  }
  const key = h.digest('hex');
  memo?.collateralKeys.set(c, key);
  return key;
}

export function remember<V>(memo: TdxVerificationMemo, map: Map<string, V>, key: string, value: V): void {
  if (map.size >= memo.maxEntries) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
