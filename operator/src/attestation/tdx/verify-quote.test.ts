import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureCases, TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { loadCollateralDir } from './collateral-dir.ts';
import { verifyTdxQuote } from './verify-quote.ts';
import { createTdxMemo } from './memo.ts';
import { INTEL_SGX_ROOT_CA_PEM } from './intel-root-ca.ts';
import { resignFixture } from '../../../test/fixtures/tdx/test-pki.ts';
import type { ResignOptions } from '../../../test/fixtures/tdx/test-pki.ts';

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

// v4 B0C06F000000 quote: signature data at 636 (signature, attestation key, type 6 and size), QE report at 770,
// its signature at 1154, QE auth data at 1220.
describe('verifyTdxQuote signature and binding checks', () => {
  const dir = join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06');
  const quote = new Uint8Array(readFileSync(join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'quote.bin')));
  const at = new Date('2025-07-01T00:00:00Z');
  const flipped = (offset: number) => {
    const q = new Uint8Array(quote);
    q[offset] = (q[offset] ?? 0) ^ 0x01;
    return q;
  };
  const failure = async (q: Uint8Array) => {
    const v = verifyTdxQuote({ quote: q, collateral: await loadCollateralDir(dir), at });
    return v.ok ? 'verified' : v.failure;
  };

  it('a QE report signature that does not verify', async () => {
    expect(await failure(flipped(1154 + 10))).toEqual({ code: 'QeReportSignatureInvalid', message: 'the QE report signature does not verify with the PCK leaf key' });
  });

  it('QE auth data that the QE report does not bind', async () => {
    expect(await failure(flipped(1220))).toEqual({
      code: 'QeReportDataMismatch',
      message: 'QE report REPORTDATA is not SHA-256(attestation key ‖ QE auth data) followed by 32 zero bytes',
    });
  });

  it('a quote signature that does not verify over the TD report', async () => {
    const want = { code: 'QuoteSignatureInvalid', message: 'the quote signature over header and TD report does not verify with the attestation key' };
    expect(await failure(flipped(636 + 5))).toEqual(want);
    expect(await failure(flipped(568))).toEqual(want);
  });

  it('warns about trailing bytes only when there are some', async () => {
    const v = verifyTdxQuote({ quote: quote.subarray(0, quote.length - 70), collateral: await loadCollateralDir(dir), at });
    expect(v.ok ? v.report.warnings : v.failure).toEqual([]);
  });

  it('the pinned root must be exactly one PEM certificate', async () => {
    const root = readFileSync(join(TDX_FIXTURES, 'common', 'intel_sgx_root_ca.pem'), 'utf8');
    const collateral = await loadCollateralDir(dir);
    const two = verifyTdxQuote({ quote, collateral, at, rootCaPem: `${root}\n${root}` });
    expect(two.ok ? 'verified' : two.failure).toEqual({ code: 'CertificateMalformed', message: 'the pinned root CA must be exactly one certificate' });
    const none = verifyTdxQuote({ quote, collateral, at, rootCaPem: '' });
    expect(none.ok ? 'verified' : none.failure).toEqual({ code: 'CertificateMalformed', message: 'pinned root CA is not a PEM certificate list' });
  });

  it('a warm memo reuses its entries (same objects) instead of re-verifying', async () => {
    const memo = createTdxMemo();
    const collateral = await loadCollateralDir(dir);
    expect(verifyTdxQuote({ quote, collateral, at, memo }).ok).toBe(true);
    const snapshot = () => {
      const perCollateral = [...memo.pckChains.values()][0];
      return [...memo.roots.values(), ...memo.collateral.values(), perCollateral, ...(perCollateral?.values() ?? []), ...memo.attestationKeys.values()];
    };
    const first = snapshot();
    expect(first).toHaveLength(5);
    expect(verifyTdxQuote({ quote, collateral, at, memo }).ok).toBe(true);
    const second = snapshot();
    expect(second).toHaveLength(5);
    second.forEach((entry, i) => expect(entry, `entry ${i}`).toBe(first[i]));
  });
});

describe('verifyTdxQuote on a re-signed quote (test PKI)', () => {
  const set = join(TDX_FIXTURES, 'v4-b0c06f000000-phala');
  const base = { quote: new Uint8Array(readFileSync(join(set, 'quote.bin'))), collateralDir: join(set, 'collateral-2025-06'), validFrom: new Date('2025-01-01T00:00:00Z'), validTo: new Date('2026-01-01T00:00:00Z') };
  const at = new Date('2025-07-01T00:00:00Z');
  const verify = async (over: Partial<ResignOptions>) => {
    const r = await resignFixture({ ...base, ...over });
    const v = verifyTdxQuote({ quote: r.quote, collateral: r.collateral, at, rootCaPem: r.rootPem });
    return v.ok ? 'verified' : v.failure;
  };

  it('memoized collateral is keyed by the root it was verified under', async () => {
    const r = await resignFixture(base);
    const memo = createTdxMemo();
    expect(verifyTdxQuote({ quote: r.quote, collateral: r.collateral, at, rootCaPem: r.rootPem, memo }).ok).toBe(true);
    const pinned = verifyTdxQuote({ quote: r.quote, collateral: r.collateral, at, memo });
    expect(pinned.ok ? 'verified' : pinned.failure.code).toBe('RootCaMismatch');
  });

  it('a QE report whose REPORTDATA binds the key but is not zero-padded', async () => {
    expect(await verify({ editBoundQeReport: (report) => void (report[383] = 1) })).toEqual({
      code: 'QeReportDataMismatch',
      message: 'QE report REPORTDATA is not SHA-256(attestation key ‖ QE auth data) followed by 32 zero bytes',
    });
  });

  it('an attestation key that is not a P-256 point, even when the QE report binds it', async () => {
    expect(await verify({ attestationKeyBytes: new Uint8Array(64).fill(1) })).toEqual({ code: 'QuoteSignatureInvalid', message: 'the quote attestation key is not a valid P-256 point' });
  });

  it('a Revoked TCB level names what was revoked', async () => {
    const levels = (t: Record<string, unknown>) => t.tcbLevels as Record<string, unknown>[];
    expect(await verify({ editTcbInfo: (t) => Object.assign(levels(t)[0] as Record<string, unknown>, { tcbStatus: 'Revoked' }) })).toEqual({
      code: 'TcbRevoked',
      message: 'the platform TCB level (or the TDX module / QE level) is Revoked',
    });
  });
});
