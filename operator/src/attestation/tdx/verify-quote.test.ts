import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureCases, TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { loadCollateralDir } from './collateral-dir.ts';
import { verifyTdxQuote } from './verify-quote.ts';
import { createTdxMemo } from './memo.ts';
import { INTEL_SGX_ROOT_CA_PEM } from './intel-root-ca.ts';

// Where we deliberately differ from dcap-qvl-js 0.3.9 (recorded in expected.json) because we follow Intel's QVL:
// Intel skips TEE_TCB_SVN[0..1] when comparing tdxtcbcomponents if TEE_TCB_SVN[1] > 0 (the TDX module is judged by
// its own identity levels); dcap-qvl compares all 16 bytes. See docs/tdx-verification.md.
const INTEL_QVL_RESULTS: Record<string, { ok: true; status: string; advisoryIds: string[] } | { ok: false; code: string }> = {
  // TEE_TCB_SVN 02 01 06…: platform level [3,0,6] matches once [0..1] are skipped (OutOfDate); TDX_01 isvsvn 2 is OutOfDate.
  'v4-00806f050000/quote_trustee_az-tdx-vtpm.bin': { ok: true, status: 'OutOfDate', advisoryIds: ['INTEL-SA-00960', 'INTEL-SA-00982', 'INTEL-SA-00986'] },
  // TEE_TCB_SVN 04 01 07… with CPUSVN 7,7: the top level [5,0,7] matches once [0..1] are skipped; TDX_01 isvsvn 4 is UpToDate.
  'v4-00806f050000/quote_zkdcap_types_v4.bin': { ok: true, status: 'UpToDate', advisoryIds: [] },
  // An SGX v3 quote is not TDX evidence (trustee rejects it the same way).
  'sgx-v3-00a067110000-phala/quote.bin': { ok: false, code: 'QuoteUnsupportedVersion' },
};

const DCAP_QVL_ERRORS: Record<string, string> = {
  'No matching TCB level found': 'TcbLevelNotFound',
  // dcap-qvl has one error for both ends of a validity window; both fixture cases are PCK leaves issued after the
  // pinned time (June 2025 collateral, v5 quotes captured later), which we report as CertificateNotYetValid.
  'Certificate is expired or not yet valid': 'CertificateNotYetValid',
};

describe('verifyTdxQuote on every fixture quote at its pinned time', () => {
  for (const c of fixtureCases()) {
    const key = `${c.set}/${c.quoteFile}`;
    it(`${key} with ${c.collateralName}`, async () => {
      const collateral = await loadCollateralDir(c.collateralDir);
      const verdict = verifyTdxQuote({ quote: c.quote, collateral, at: c.at });
      const want = INTEL_QVL_RESULTS[key] ?? (c.dcapQvl.ok
        ? { ok: true as const, status: c.dcapQvl.status, advisoryIds: c.dcapQvl.advisory_ids }
        : { ok: false as const, code: DCAP_QVL_ERRORS[c.dcapQvl.error] ?? `unmapped: ${c.dcapQvl.error}` });
      if (want.ok) {
        expect(verdict.ok ? { status: verdict.report.tcb.status, advisoryIds: verdict.report.tcb.advisoryIds } : verdict.failure).toEqual({
          status: want.status,
          advisoryIds: want.advisoryIds,
        });
      } else {
        expect(verdict.ok ? 'verified' : verdict.failure.code).toBe(want.code);
        if (!verdict.ok) expect(verdict.failure.message.length).toBeGreaterThan(20);
      }
    });
  }
});

describe('verifyTdxQuote time and trust checks', () => {
  const dir = join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06');
  const quote = new Uint8Array(readFileSync(join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'quote.bin')));

  it('verifies inside the collateral window and reports claims', async () => {
    const v = verifyTdxQuote({ quote, collateral: await loadCollateralDir(dir), at: new Date('2025-07-01T00:00:00Z') });
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(Buffer.from(v.report.pck.extension.fmspc).toString('hex')).toBe('b0c06f000000');
    expect(v.report.pck.caType).toBe('platform');
    expect(v.report.warnings).toEqual(['quote has 70 bytes after the signature data; they were ignored']);
  });

  it('rejects after nextUpdate with an expiry reason', async () => {
    const v = verifyTdxQuote({ quote, collateral: await loadCollateralDir(dir), at: new Date('2025-07-20T00:00:00Z') });
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(['TcbInfoExpired', 'QeIdentityExpired', 'CrlExpired']).toContain(v.failure.code);
    expect(v.failure.message).toMatch(/is not valid at 2025-07-20T00:00:00.000Z/);
  });

  it('rejects before the collateral was issued', async () => {
    const v = verifyTdxQuote({ quote, collateral: await loadCollateralDir(dir), at: new Date('2025-06-01T00:00:00Z') });
    expect(v.ok ? 'verified' : v.failure.code).toMatch(/Expired$/);
  });

  it('the memo never lets expired collateral pass', async () => {
    const memo = createTdxMemo();
    const collateral = await loadCollateralDir(dir);
    expect(verifyTdxQuote({ quote, collateral, at: new Date('2025-07-01T00:00:00Z'), memo }).ok).toBe(true);
    expect(memo.collateral.size).toBe(1);
    expect(memo.pckChains.size).toBe(1);
    const late = verifyTdxQuote({ quote, collateral, at: new Date('2025-08-01T00:00:00Z'), memo });
    expect(late.ok ? 'verified' : late.failure.code).toMatch(/Expired$/);
  });

  it('rejects a chain that does not end in the pinned root', async () => {
    const other = readFileSync(join(TDX_FIXTURES, 'common', 'intel_sgx_pck_platform_ca.pem'), 'utf8');
    const v = verifyTdxQuote({ quote, collateral: await loadCollateralDir(dir), at: new Date('2025-07-01T00:00:00Z'), rootCaPem: other });
    expect(v.ok ? 'verified' : v.failure.code).toBe('RootCaMismatch');
  });

  it('rejects a quote whose PCK chain roots to a non-production Intel SGX Root CA', async () => {
    const ubuntu = new Uint8Array(readFileSync(join(TDX_FIXTURES, '..', 'ccel', 'ubuntu-grub-ima-evidence-api', 'quote.bin')));
    const v = verifyTdxQuote({ quote: ubuntu, collateral: await loadCollateralDir(dir), at: new Date('2025-07-01T00:00:00Z') });
    expect(v.ok ? 'verified' : v.failure).toEqual({ code: 'RootCaMismatch', message: 'PCK certificate chain does not end in the pinned Intel SGX Root CA' });
  });

  it('rejects collateral of another FMSPC', async () => {
    const otherDir = join(TDX_FIXTURES, 'v4-20a06f000000-phala-near', 'collateral-2025-09');
    const v = verifyTdxQuote({ quote, collateral: await loadCollateralDir(otherDir), at: new Date('2025-09-15T00:00:00Z') });
    expect(v.ok ? 'verified' : v.failure.code).toBe('FmspcMismatch');
  });

  it('the pinned root is the fixture Intel SGX Root CA', () => {
    expect(INTEL_SGX_ROOT_CA_PEM.trim()).toBe(readFileSync(join(TDX_FIXTURES, 'common', 'intel_sgx_root_ca.pem'), 'utf8').trim());
  });
});
