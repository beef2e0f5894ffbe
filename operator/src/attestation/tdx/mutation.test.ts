// Mutation and truncation tests: every single-bit flip in the signed region of each verifying fixture quote
// (a systematic sample of >= 2,000 per quote touching every byte), in the QE report/signature/key/auth data,
// and in every signed collateral body must be rejected; every truncation must fail cleanly.
import { describe, expect, it } from 'vitest';
import { fixtureCases } from '../../../test/fixtures/tdx/fixtures.ts';
import { loadCollateralDir } from './collateral-dir.ts';
import type { TdxCollateral } from './collateral.ts';
import { verifyTdxQuote } from './verify-quote.ts';
import { createTdxMemo } from './memo.ts';
import { parseTdxQuote } from './quote.ts';
import { TdxError } from './errors.ts';

function flip(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return copy;
}

/** Four bits of every byte in [start, end), alternating even/odd bit positions so all 8 positions are hit. */
function sampleBits(start: number, end: number, perByte = 4): number[] {
  const bits: number[] = [];
  for (let byte = start; byte < end; byte++) {
    for (let k = 0; k < perByte; k++) bits.push(byte * 8 + ((byte + k * (8 / perByte)) % 8));
  }
  return bits;
}

const verifying = fixtureCases().filter((c) => {
  return ['v4-b0c06f000000-phala/collateral-2025-06', 'v4-20a06f000000-phala-near/collateral-2025-09', 'v5-90c06f000000/collateral-2026-02', 'v4-00806f050000/collateral-2025-06'].includes(
    `${c.set}/${c.collateralName}`,
  );
}).filter((c) => c.quoteFile !== 'quote_phala_outdated.bin' && c.quoteFile !== 'quote_trustee_tdx_quote_5.bin');

describe('single-bit mutations of fixture quotes are rejected', () => {
  for (const c of verifying) {
    it(`${c.set}/${c.quoteFile}`, async () => {
      const collateral = await loadCollateralDir(c.collateralDir);
      const memo = createTdxMemo();
      expect(verifyTdxQuote({ quote: c.quote, collateral, at: c.at, memo }).ok).toBe(true);
      const q = parseTdxQuote(c.quote);
      const signedEnd = q.signedRegion.length;
      // Signed region: header, [v5 descriptor], TD report.
      const bits = sampleBits(0, signedEnd);
      expect(bits.length).toBeGreaterThanOrEqual(2000);
      // QE report, QE report signature, attestation key, QE auth data: located by offset within the quote.
      const at = (sub: Uint8Array) => sub.byteOffset - c.quote.byteOffset;
      for (const part of [q.signature, q.attestationKey, q.qeReport.raw, q.qeReportSignature, q.qeAuthData]) {
        bits.push(...sampleBits(at(part), at(part) + part.length, 1));
      }
      const accepted: number[] = [];
      const codes = new Map<string, number>();
      for (const bit of bits) {
        const v = verifyTdxQuote({ quote: flip(c.quote, bit), collateral, at: c.at, memo });
        if (v.ok) accepted.push(bit);
        else codes.set(v.failure.code, (codes.get(v.failure.code) ?? 0) + 1);
      }
      expect(accepted).toEqual([]);
      expect(codes.get('QuoteSignatureInvalid')).toBeGreaterThan(1500);
      expect(codes.has('QeReportSignatureInvalid')).toBe(true);
      expect(codes.has('QeReportDataMismatch')).toBe(true);
    });
  }
});

describe('truncation at every length', () => {
  for (const c of verifying) {
    it(`${c.set}/${c.quoteFile}`, async () => {
      const collateral = await loadCollateralDir(c.collateralDir);
      const memo = createTdxMemo();
      const q = parseTdxQuote(c.quote);
      const end = c.quote.length - q.trailingBytes;
      for (let len = 0; len < c.quote.length; len++) {
        const cut = c.quote.subarray(0, len);
        let thrown: unknown;
        try {
          parseTdxQuote(cut);
        } catch (err) {
          thrown = err;
        }
        if (len < end) {
          expect(thrown, `length ${len}`).toBeInstanceOf(TdxError);
          const v = verifyTdxQuote({ quote: cut, collateral, at: c.at, memo });
          expect(v.ok ? 'verified' : v.failure.code, `length ${len}`).toMatch(/^(QuoteTruncated|QuoteMalformed)$/);
        } else {
          // Only trailing bytes were cut: the quote itself is intact.
          expect(thrown).toBeUndefined();
        }
      }
    });
  }
});

type BodyField = 'tcbInfoBody' | 'qeIdentityBody' | 'pckCrl' | 'rootCaCrl';

describe('single-bit mutations of signed collateral bodies are rejected', () => {
  const c = verifying.find((x) => x.set === 'v4-b0c06f000000-phala');
  const fields: [BodyField, number][] = [
    ['tcbInfoBody', 8],
    ['qeIdentityBody', 4],
    ['pckCrl', 16],
    ['rootCaCrl', 1],
  ];
  for (const [field, stride] of fields) {
    it(`${field} (one bit in every ${stride === 1 ? '' : `${stride}th `}byte)`, async () => {
      if (!c) throw new Error('fixture missing');
      const collateral = await loadCollateralDir(c.collateralDir);
      const body = collateral[field];
      let tried = 0;
      const accepted: number[] = [];
      for (let byte = 0; byte < body.length; byte += stride) {
        const mutated: TdxCollateral = { ...collateral, [field]: flip(body, byte * 8 + (byte % 8)) };
        const v = verifyTdxQuote({ quote: c.quote, collateral: mutated, at: c.at });
        tried++;
        if (v.ok) accepted.push(byte);
      }
      expect(tried).toBeGreaterThan(100);
      expect(accepted).toEqual([]);
    });
  }
});
