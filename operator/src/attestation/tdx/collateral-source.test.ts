// collateralRequestFor reads the lookup key (FMSPC, PCK CA type) from a quote's PCK chain, with and without a
// memo; staticCollateralSource hands out one bundle.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { resignFixture } from '../../../test/fixtures/tdx/test-pki.ts';
import { parseTdxQuote } from './quote.ts';
import { collateralRequestFor, staticCollateralSource } from './collateral-source.ts';
import { createTdxMemo } from './memo.ts';
import { loadCollateralDir } from './collateral-dir.ts';
import { tdxFailure } from '../../../test/support/tdx-failure.ts';

const set = join(TDX_FIXTURES, 'v4-b0c06f000000-phala');
const quoteBytes = new Uint8Array(readFileSync(join(set, 'quote.bin')));
const quote = parseTdxQuote(quoteBytes);
const at = new Date('2025-07-01T00:00:00Z');
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g;

const failure = tdxFailure;

describe('collateralRequestFor', () => {
  it('reads FMSPC and CA type from the PCK chain without a memo', () => {
    expect(collateralRequestFor(quote, at)).toEqual({ fmspc: 'b0c06f000000', caType: 'platform', at });
  });

  it('a chain through the PCK Processor CA asks for processor collateral', async () => {
    const r = await resignFixture({ quote: quoteBytes, collateralDir: join(set, 'collateral-2025-06'), validFrom: new Date('2025-01-01T00:00:00Z'), validTo: new Date('2026-01-01T00:00:00Z'), names: { pckCa: 'Intel SGX PCK Processor CA' } });
    expect(collateralRequestFor(parseTdxQuote(r.quote), at)).toEqual({ fmspc: 'b0c06f000000', caType: 'processor', at });
  });

  it('remembers the lookup per chain PEM and answers later quotes with that chain from the memo', () => {
    const memo = createTdxMemo();
    expect(collateralRequestFor(quote, at, memo)).toEqual({ fmspc: 'b0c06f000000', caType: 'platform', at });
    expect(memo.collateralLookups.get(quote.pckChainPem)).toEqual({ fmspc: 'b0c06f000000', caType: 'platform' });
    memo.collateralLookups.set(quote.pckChainPem, { fmspc: '00806f050000', caType: 'processor' });
    const later = new Date('2025-07-02T00:00:00Z');
    expect(collateralRequestFor(quote, later, memo)).toEqual({ fmspc: '00806f050000', caType: 'processor', at: later });
  });

  it('names a PCK chain that is not PEM or has only the leaf', () => {
    expect(failure(() => collateralRequestFor({ ...quote, pckChainPem: 'garbage' }, at))).toEqual({ code: 'CertificateMalformed', message: 'PCK certificate chain is not a PEM certificate list' });
    const leafOnly = quote.pckChainPem.match(PEM_BLOCK)?.[0] ?? '';
    expect(failure(() => collateralRequestFor({ ...quote, pckChainPem: leafOnly }, at))).toEqual({ code: 'CertificateChainInvalid', message: 'PCK certificate chain has fewer than two certificates' });
  });
});

describe('staticCollateralSource', () => {
  it('returns its bundle for any request, with no warnings unless given', async () => {
    const c = await loadCollateralDir(join(set, 'collateral-2025-06'));
    const req = { fmspc: '000000000000', caType: 'processor' as const, at };
    expect(await staticCollateralSource(c).get(req)).toEqual({ collateral: c, warnings: [] });
    expect((await staticCollateralSource(c, ['pinned bundle']).get(req)).warnings).toEqual(['pinned bundle']);
  });
});
