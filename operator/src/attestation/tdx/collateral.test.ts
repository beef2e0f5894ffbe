// verifyCollateral on real Intel collateral (June 2025, FMSPC B0C06F000000) with one part broken per case:
// each failure carries the code of the item that failed and a message naming it.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { loadCollateralDir } from './collateral-dir.ts';
import { collateralExpiry, verifyCollateral } from './collateral.ts';
import type { TdxCollateral } from './collateral.ts';
import type { Cert } from './x509.ts';
import { parsePemChain } from './x509.ts';
import { parseTdxQuote } from './quote.ts';
import { TdxError } from './errors.ts';

const set = join(TDX_FIXTURES, 'v4-b0c06f000000-phala');
const real = await loadCollateralDir(join(set, 'collateral-2025-06'));
const rootPem = readFileSync(join(TDX_FIXTURES, 'common', 'intel_sgx_root_ca.pem'), 'utf8');
const pinnedRoot = parsePemChain(rootPem, 'root')[0];
if (!pinnedRoot) throw new Error('no root');
const root: Cert = pinnedRoot;
// The quote's own PCK chain (leaf, PCK Platform CA, root): a real chain with an intermediate CA in it.
const pckChainPem = parseTdxQuote(new Uint8Array(readFileSync(join(set, 'quote.bin')))).pckChainPem;

function failure(c: Partial<TdxCollateral>, anchor?: Cert): { code: string; message: string } | 'ok' {
  try {
    verifyCollateral({ ...real, ...c }, anchor ?? root);
    return 'ok';
  } catch (err) {
    if (!(err instanceof TdxError)) throw err;
    return { code: err.code, message: err.message };
  }
}
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
/** Changes a signed value without touching the JSON shape, so only the signature check can notice. */
const tamper = (b: Uint8Array) => bytes(text(b).replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18'));

describe('verifyCollateral', () => {
  it('verifies the real collateral and reports its earliest expiry', () => {
    const v = verifyCollateral(real, root);
    expect([v.tcbInfo.fmspc, v.qeIdentity.id, v.pckCrlIssuer.subjectCn]).toEqual(['B0C06F000000', 'TD_QE', 'Intel SGX PCK Platform CA']);
    expect(collateralExpiry(v).toISOString()).toBe('2025-07-19T10:00:35.000Z');
  });

  it('names the part whose encoding is broken', () => {
    expect(failure({ tcbInfoIssuerChain: 'garbage' })).toEqual({ code: 'CertificateMalformed', message: 'TCB Info issuer chain is not a PEM certificate list' });
    expect(failure({ qeIdentityIssuerChain: 'garbage' })).toEqual({ code: 'CertificateMalformed', message: 'QE Identity issuer chain is not a PEM certificate list' });
    expect(failure({ pckCrlIssuerChain: 'garbage' })).toEqual({ code: 'CertificateMalformed', message: 'PCK CRL issuer chain is not a PEM certificate list' });
    expect(failure({ rootCaCrl: bytes('garbage') })).toEqual({ code: 'CrlMalformed', message: 'Root CA CRL could not be parsed: element runs past the end of its container' });
    expect(failure({ pckCrl: bytes('garbage') })).toEqual({ code: 'CrlMalformed', message: 'PCK CRL could not be parsed: element runs past the end of its container' });
  });

  it('requires the TCB Info chain to end in the pinned root, and to hold more than the root', () => {
    const notRoot = parsePemChain(readFileSync(join(TDX_FIXTURES, 'common', 'intel_sgx_pck_platform_ca.pem'), 'utf8'), 'ca')[0];
    expect(failure({}, notRoot)).toEqual({ code: 'RootCaMismatch', message: 'TCB Info issuer chain does not end in the pinned Intel SGX Root CA' });
    expect(failure({ tcbInfoIssuerChain: rootPem })).toEqual({ code: 'CertificateChainInvalid', message: 'TCB Info issuer chain has fewer than two certificates' });
  });

  it('an intermediate CA in a collateral chain needs its own CRL (the Root CA CRL only covers what the root issued)', () => {
    expect(failure({ tcbInfoIssuerChain: pckChainPem })).toEqual({ code: 'CrlIssuerMismatch', message: 'TCB Info issuer chain: no CRL issued by "Intel SGX PCK Platform CA" was supplied' });
    expect(failure({ pckCrlIssuerChain: pckChainPem })).toEqual({ code: 'CrlIssuerMismatch', message: 'PCK CRL issuer chain: no CRL issued by "Intel SGX PCK Platform CA" was supplied' });
  });

  it('codes malformed and tampered TCB Info and QE Identity separately', () => {
    expect(failure({ tcbInfoBody: bytes('{') })).toMatchObject({ code: 'TcbInfoMalformed', message: expect.stringMatching(/^TCB Info is not valid JSON: /) as unknown });
    expect(failure({ qeIdentityBody: bytes('{') })).toMatchObject({ code: 'QeIdentityMalformed', message: expect.stringMatching(/^QE Identity is not valid JSON: /) as unknown });
    expect(failure({ tcbInfoBody: tamper(real.tcbInfoBody) })).toEqual({ code: 'TcbInfoSignatureInvalid', message: 'TCB Info signature does not verify over the signed "tcbInfo" bytes' });
    expect(failure({ qeIdentityBody: tamper(real.qeIdentityBody) })).toEqual({ code: 'QeIdentitySignatureInvalid', message: 'QE Identity signature does not verify over the signed "enclaveIdentity" bytes' });
  });

  it('a signed TCB Info of another shape names the first field that is wrong', () => {
    // Intel's SGX TCB Info for this platform is signed by the same key: a real, validly signed body of the wrong kind.
    const sgx = new Uint8Array(readFileSync(join(TDX_FIXTURES, 'sgx-v3-00a067110000-phala', 'collateral-2025-06', 'tcb_info.json')));
    expect(failure({ tcbInfoBody: sgx })).toEqual({ code: 'TcbInfoMalformed', message: 'TCB Info is not a TDX TCB Info v3 (id: Invalid input: expected "TDX")' });
  });
});
