// States no captured quote has (debug TD, revoked PCK, every TCB status, convergence, identity mismatches),
// exercised through the full verification path on a real quote and real collateral re-signed by a test PKI.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { resignFixture } from '../../../test/fixtures/tdx/test-pki.ts';
import type { ResignOptions } from '../../../test/fixtures/tdx/test-pki.ts';
import { verifyTdxQuote } from './verify-quote.ts';
import type { TdxQuoteVerdict } from './verify-quote.ts';
import { createTdxVerifier } from './verifier.ts';
import { staticCollateralSource } from './collateral-source.ts';
import { AttestationPolicySpecSchema } from '../../api/attestation-policy.ts';
import { TCB_STATUSES } from './collateral-schemas.ts';

// v4 quote, FMSPC B0C06F000000, TEE_TCB_SVN 06 01 03 (module TDX_01, isvsvn 6); its level is tcbLevels[0].
const set = join(TDX_FIXTURES, 'v4-b0c06f000000-phala');
const base = { quote: new Uint8Array(readFileSync(join(set, 'quote.bin'))), collateralDir: join(set, 'collateral-2025-06'), validFrom: new Date('2025-01-01T00:00:00Z'), validTo: new Date('2026-01-01T00:00:00Z') };
const at = new Date('2025-07-01T00:00:00Z');

type Json = Record<string, unknown>;
const levels = (o: Json) => o.tcbLevels as Json[];
const module01 = (o: Json) => (o.tdxModuleIdentities as Json[]).find((m) => m.id === 'TDX_01') as Json;

async function verify(over: Partial<ResignOptions> = {}, when = at): Promise<TdxQuoteVerdict> {
  const r = await resignFixture({ ...base, ...over });
  return verifyTdxQuote({ quote: r.quote, collateral: r.collateral, at: when, rootCaPem: r.rootPem });
}
const outcome = (v: TdxQuoteVerdict) => (v.ok ? { status: v.report.tcb.status, advisoryIds: v.report.tcb.advisoryIds } : v.failure.code);

describe('re-signed fixture: the test PKI itself', () => {
  it('verifies with the test root and is rejected by the pinned Intel root', async () => {
    const r = await resignFixture(base);
    expect(outcome(verifyTdxQuote({ quote: r.quote, collateral: r.collateral, at, rootCaPem: r.rootPem }))).toEqual({ status: 'UpToDate', advisoryIds: [] });
    expect(outcome(verifyTdxQuote({ quote: r.quote, collateral: r.collateral, at }))).toBe('RootCaMismatch');
  });
});

describe('debug TDs are rejected', () => {
  it('through the Verifier adapter, while the same TD without DEBUG verifies', async () => {
    const expected = new Uint8Array(48).fill(0xab);
    const make = (debug: boolean) =>
      resignFixture({
        ...base,
        editBody: (region, body) => {
          region.fill(0, body + 520, body + 584);
          region.set(expected, body + 520);
          if (debug) region[body + 120] = (region[body + 120] ?? 0) | 0x01;
        },
      });
    const policy = AttestationPolicySpecSchema.parse({ tdx: { requireEventLog: false } });
    for (const debug of [false, true]) {
      const r = await make(debug);
      const verifier = createTdxVerifier({ collateralFor: () => staticCollateralSource(r.collateral), intelRootCaPem: r.rootPem });
      const result = await verifier.verify({ evidence: { cc_eventlog: null, quote: Buffer.from(r.quote).toString('base64') }, expectedReportData: expected, at, policy });
      if (debug) {
        expect(result.ok ? 'ok' : result.failure).toEqual({ code: 'TdDebug', message: 'TD attributes have the DEBUG bit set; debug TDs are never trusted' });
      } else {
        expect(result.ok ? result.verified.claims.debug : result.failure).toBe(false);
      }
    }
  });
});

describe('TCB status selection, advisories and convergence (Intel QVL rules)', () => {
  for (const status of TCB_STATUSES.filter((s) => s !== 'Revoked')) {
    it(`platform level ${status} is reported with its advisory IDs`, async () => {
      const v = await verify({ editTcbInfo: (t) => Object.assign(levels(t)[0] as Json, { tcbStatus: status, advisoryIDs: ['INTEL-SA-01234'] }) });
      expect(outcome(v)).toEqual({ status, advisoryIds: ['INTEL-SA-01234'] });
    });
  }

  it('a Revoked platform level is rejected', async () => {
    expect(outcome(await verify({ editTcbInfo: (t) => Object.assign(levels(t)[0] as Json, { tcbStatus: 'Revoked' }) }))).toBe('TcbRevoked');
  });

  it('an OutOfDate TDX module turns ConfigurationNeeded into OutOfDateConfigurationNeeded and merges advisories', async () => {
    const v = await verify({
      editTcbInfo: (t) => {
        Object.assign(levels(t)[0] as Json, { tcbStatus: 'ConfigurationNeeded', advisoryIDs: ['INTEL-SA-00001'] });
        for (const l of module01(t).tcbLevels as Json[]) Object.assign(l, { tcbStatus: 'OutOfDate', advisoryIDs: ['INTEL-SA-00002'] });
      },
    });
    expect(outcome(v)).toEqual({ status: 'OutOfDateConfigurationNeeded', advisoryIds: ['INTEL-SA-00001', 'INTEL-SA-00002'] });
    expect(v.ok && v.report.tcb.moduleStatus).toBe('OutOfDate');
  });

  it('an OutOfDate QE turns UpToDate into OutOfDate; a Revoked QE is rejected', async () => {
    const qe = (tcbStatus: string) => (i: Json) => Object.assign((i.tcbLevels as Json[])[0] as Json, { tcbStatus, advisoryIDs: ['INTEL-SA-00003'] });
    expect(outcome(await verify({ editQeIdentity: qe('OutOfDate') }))).toEqual({ status: 'OutOfDate', advisoryIds: ['INTEL-SA-00003'] });
    expect(outcome(await verify({ editQeIdentity: qe('Revoked') }))).toBe('TcbRevoked');
  });

  it('no QE TCB level at or below the QE ISVSVN is QeTcbNotSupported', async () => {
    expect(outcome(await verify({ editQeIdentity: (i) => Object.assign(((i.tcbLevels as Json[])[0] as Json).tcb as Json, { isvsvn: 999 }) }))).toBe('QeTcbNotSupported');
  });

  it('no platform level at or below the platform TCB is TcbLevelNotFound', async () => {
    const v = await verify({ editTcbInfo: (t) => { t.tcbLevels = [levels(t)[0]]; (((levels(t)[0] as Json).tcb as Json).tdxtcbcomponents as Json[])[2] = { svn: 200 }; } });
    expect(outcome(v)).toBe('TcbLevelNotFound');
  });
});

describe('identity and binding checks', () => {
  const cases: [string, Partial<ResignOptions>, string][] = [
    ['QE Identity mrsigner differs', { editQeIdentity: (i) => (i.mrsigner = '00'.repeat(32)) }, 'QeIdentityMismatch'],
    ['QE Identity isvprodid differs', { editQeIdentity: (i) => (i.isvprodid = 1) }, 'QeIdentityMismatch'],
    ['TDX module identity mrsigner differs', { editTcbInfo: (t) => (module01(t).mrsigner = 'ff'.repeat(48)) }, 'TdxModuleMismatch'],
    ['TDX module identity TDX_01 missing', { editTcbInfo: (t) => (t.tdxModuleIdentities = (t.tdxModuleIdentities as Json[]).filter((m) => m.id !== 'TDX_01')) }, 'TdxModuleMismatch'],
    ['TCB Info pceId differs', { editTcbInfo: (t) => (t.pceId = '0001') }, 'PceIdMismatch'],
    ['TCB Info fmspc differs', { editTcbInfo: (t) => (t.fmspc = '00906ED50000') }, 'FmspcMismatch'],
    ['TCB Info is not TDX', { editTcbInfo: (t) => (t.id = 'SGX') }, 'TcbInfoMalformed'],
    ['TCB Info nextUpdate passed', { editTcbInfo: (t) => (t.nextUpdate = '2025-06-30T00:00:00Z') }, 'TcbInfoExpired'],
    ['QE Identity nextUpdate passed', { editQeIdentity: (i) => (i.nextUpdate = '2025-06-30T00:00:00Z') }, 'QeIdentityExpired'],
    ['PCK leaf revoked by the PCK CRL', { revokePckLeaf: true }, 'CertificateRevoked'],
    ['CRLs past nextUpdate', { crlNextUpdate: new Date('2025-06-30T00:00:00Z') }, 'CrlExpired'],
    ['certificates expired', { validTo: new Date('2025-06-30T00:00:00Z'), crlNextUpdate: new Date('2025-12-01T00:00:00Z') }, 'CertificateExpired'],
    ['PCK leaf not yet valid', { pckLeafValidFrom: new Date('2025-07-02T00:00:00Z') }, 'CertificateNotYetValid'],
  ];
  for (const [name, over, code] of cases) {
    it(`${name} → ${code}`, async () => {
      expect(outcome(await verify(over))).toBe(code);
    });
  }
});

describe('validity window codes', () => {
  it('a PCK certificate that is not yet valid is CertificateNotYetValid, naming the certificate and its window', async () => {
    const v = await verify({ pckLeafValidFrom: new Date('2025-07-02T00:00:00Z') });
    expect(v.ok ? 'verified' : v.failure).toEqual({
      code: 'CertificateNotYetValid',
      message: 'PCK certificate chain certificate "Intel SGX PCK Certificate" is not valid at 2025-07-01T00:00:00.000Z (valid 2025-07-02T00:00:00.000Z to 2026-01-01T00:00:00.000Z)',
    });
    // The same leaf once its window has begun verifies; after it ends it is CertificateExpired.
    expect(outcome(await verify({ pckLeafValidFrom: new Date('2025-07-02T00:00:00Z') }, new Date('2025-07-03T00:00:00Z')))).toEqual({ status: 'UpToDate', advisoryIds: [] });
    const afterCerts = { pckLeafValidFrom: new Date('2025-07-02T00:00:00Z'), crlNextUpdate: new Date('2026-06-01T00:00:00Z') };
    expect(outcome(await verify(afterCerts, new Date('2026-01-02T00:00:00Z')))).toBe('CertificateExpired');
  });

  it('a CRL whose thisUpdate is in the future keeps CrlExpired (one code per item for both ends of its window)', async () => {
    expect(outcome(await verify({}, new Date('2024-12-31T00:00:00Z')))).toBe('CrlExpired');
  });
});

describe('TD 1.5 relaunch advice (Intel TDRelaunchCheck)', () => {
  // v5 quote with a TD 1.5 body: TEE_TCB_SVN 0b 01 04…, TEE_TCB_SVN2 0d 01 04… (module TDX_01 isvsvn 11, loaded 13).
  const v5 = join(TDX_FIXTURES, 'v5-90c06f000000');
  const v5base = { quote: new Uint8Array(readFileSync(join(v5, 'quote_go-tdx-guest_v5_sample.bin'))), collateralDir: join(v5, 'collateral-2026-02'), validFrom: new Date('2026-01-01T00:00:00Z'), validTo: new Date('2027-01-01T00:00:00Z') };
  const at15 = new Date('2026-03-01T00:00:00Z');
  const withModuleLevels = (newest: number) => (t: Json) => {
    module01(t).tcbLevels = [
      { tcb: { isvsvn: newest }, tcbDate: '2025-01-01T00:00:00Z', tcbStatus: 'UpToDate' },
      { tcb: { isvsvn: 2 }, tcbDate: '2023-08-09T00:00:00Z', tcbStatus: 'OutOfDate', advisoryIDs: ['INTEL-SA-00004'] },
    ];
  };

  it('is advised when the running module is OutOfDate and TEE_TCB_SVN2 shows the newest module', async () => {
    const r = await resignFixture({ ...v5base, editTcbInfo: withModuleLevels(13) });
    const v = verifyTdxQuote({ quote: r.quote, collateral: r.collateral, at: at15, rootCaPem: r.rootPem });
    if (!v.ok) throw new Error(v.failure.message);
    expect(v.report.tcb).toMatchObject({ status: 'OutOfDate', moduleStatus: 'OutOfDate', tdRelaunchAdvised: true, advisoryIds: ['INTEL-SA-00004'] });
    expect(v.report.warnings[0]).toMatch(/^TD relaunch advised/);
  });

  it('is not advised when the loaded module is not the newest either', async () => {
    const r = await resignFixture({ ...v5base, editTcbInfo: withModuleLevels(14) });
    const v = verifyTdxQuote({ quote: r.quote, collateral: r.collateral, at: at15, rootCaPem: r.rootPem });
    if (!v.ok) throw new Error(v.failure.message);
    expect(v.report.tcb).toMatchObject({ status: 'OutOfDate', tdRelaunchAdvised: false });
  });
});

describe('Root CA CRL covers every intermediate; the PCK CRL must come from the PCK CA', () => {
  const failure = (v: TdxQuoteVerdict) => (v.ok ? 'verified' : v.failure);

  it('the controls verify: a re-issued PCK CRL issuer (same name and key) and a separate QE Identity signer', async () => {
    expect(outcome(await verify({ pckCrlIssuer: 'reissued', separateQeSigner: true }))).toEqual({ status: 'UpToDate', advisoryIds: [] });
  });

  it('a PCK CA revoked by the Root CA CRL is rejected in the PCK chain itself', async () => {
    // The PCK CRL issuer chain carries the re-issued CA (serial 12), so only the quote's PCK chain holds serial 02.
    expect(failure(await verify({ pckCrlIssuer: 'reissued', rootCrlRevokes: ['02'] }))).toEqual({
      code: 'CertificateRevoked',
      message: 'PCK certificate chain: certificate "Intel SGX PCK Platform CA" (serial 2) is revoked by the CRL of "Intel SGX Root CA"',
    });
  });

  it('a PCK CRL issuer revoked by the Root CA CRL is rejected', async () => {
    expect(failure(await verify({ pckCrlIssuer: 'reissued', rootCrlRevokes: ['12'] }))).toMatchObject({
      code: 'CertificateRevoked',
      message: expect.stringMatching(/^PCK CRL issuer chain: certificate "Intel SGX PCK Platform CA" \(serial 12\) is revoked/) as unknown,
    });
  });

  it('a TCB Info signing certificate revoked by the Root CA CRL is rejected', async () => {
    expect(failure(await verify({ rootCrlRevokes: ['03'] }))).toMatchObject({
      code: 'CertificateRevoked',
      message: expect.stringMatching(/^TCB Info issuer chain: certificate "Intel SGX TCB Signing" \(serial 3\) is revoked/) as unknown,
    });
  });

  it('a QE Identity signing certificate revoked by the Root CA CRL is rejected', async () => {
    expect(failure(await verify({ separateQeSigner: true, rootCrlRevokes: ['04'] }))).toMatchObject({
      code: 'CertificateRevoked',
      message: expect.stringMatching(/^QE Identity issuer chain: certificate "Intel SGX TCB Signing" \(serial 4\) is revoked/) as unknown,
    });
  });

  it('a PCK CRL from the other PCK CA (Processor instead of Platform) is CrlIssuerMismatch', async () => {
    expect(failure(await verify({ pckCrlIssuer: 'processor' }))).toMatchObject({ code: 'CrlIssuerMismatch', message: expect.stringMatching(/^the PCK CRL in the collateral was not issued by "Intel SGX PCK Platform CA"/) as unknown });
  });

  it('a PCK CRL issued under another CA name, even with the same key, is CrlIssuerMismatch', async () => {
    expect(failure(await verify({ pckCrlIssuer: 'renamed' }))).toMatchObject({ code: 'CrlIssuerMismatch', message: expect.stringMatching(/^the PCK CRL in the collateral was not issued by "Intel SGX PCK Platform CA"/) as unknown });
  });

  it('a PCK CRL signed by another key under the PCK CA name is CrlIssuerMismatch', async () => {
    expect(failure(await verify({ pckCrlIssuer: 'rogue' }))).toMatchObject({ code: 'CrlIssuerMismatch', message: expect.stringMatching(/^the PCK CRL in the collateral was not issued by/) as unknown });
  });
});

describe('debug Quoting Enclaves are rejected', () => {
  // QE report ATTRIBUTES start at byte 48; bit 1 of the first byte is DEBUG. Intel's TD_QE identity masks that bit,
  // so clear it from the mask to reach the explicit debug check (an identity that forgets the bit must not help).
  const unmaskDebug = (i: Json) => (i.attributesMask = ((parseInt(String(i.attributesMask).slice(0, 2), 16) & ~0x02).toString(16).padStart(2, '0')) + String(i.attributesMask).slice(2));
  const debugQe = (r: Buffer) => (r[48] = (r[48] ?? 0) | 0x02);

  it('even when the QE Identity mask ignores the DEBUG bit', async () => {
    expect(outcome(await verify({ editQeIdentity: unmaskDebug }))).toEqual({ status: 'UpToDate', advisoryIds: [] });
    expect(outcome(await verify({ editQeIdentity: unmaskDebug, editQeReport: debugQe }))).toBe('QeIdentityMismatch');
    const v = await verify({ editQeIdentity: unmaskDebug, editQeReport: debugQe });
    expect(v.ok ? '' : v.failure.message).toBe('the Quoting Enclave runs in debug mode');
  });

  it('and by the QE Identity mask when it covers the DEBUG bit', async () => {
    const v = await verify({ editQeReport: debugQe });
    expect(v.ok ? '' : v.failure.message).toBe('QE report ATTRIBUTES do not match the QE Identity under its mask');
  });
});

describe('PCK SGX extension parsing (negative cases, each through the full verification)', () => {
  const SGX = Buffer.from('2a864886f84d010d01', 'hex'); // 1.2.840.113741.1.13.1
  /** Finds OID SGX.<arcs> (as a complete OBJECT IDENTIFIER TLV) and returns the offset just after it. */
  const after = (der: Uint8Array, arcs: number[]) => {
    const oid = Buffer.concat([SGX, Buffer.from(arcs)]);
    const tlv = Buffer.concat([Buffer.from([0x06, oid.length]), oid]);
    const i = Buffer.from(der).indexOf(tlv);
    if (i < 0) throw new Error(`OID .${arcs.join('.')} not found`);
    return i + tlv.length;
  };
  const edit = (fn: (b: Buffer) => void) => (der: Uint8Array) => {
    const b = Buffer.from(der);
    fn(b);
    return new Uint8Array(b);
  };
  const cases: [string, (der: Uint8Array) => Uint8Array, RegExp][] = [
    ['truncated', (d) => d.subarray(0, d.length - 1), /^PCK certificate SGX extension: element runs past the end/],
    ['trailing byte', (d) => Uint8Array.from([...d, 0]), /^PCK certificate SGX extension: trailing bytes/],
    ['FMSPC absent (its OID renamed)', edit((b) => (b[after(b, [4]) - 1] = 9)), /^PCK certificate SGX extension: FMSPC \(1\.2\.840\.113741\.1\.13\.1\.4\) is missing or not 6 bytes$/],
    ['PCE-ID OID repeated', edit((b) => (b[after(b, [3]) - 1] = 4)), /^PCK certificate SGX extension: extension repeats 1\.2\.840\.113741\.1\.13\.1\.4$/],
    ['negative component SVN', edit((b) => (b[after(b, [2, 1]) + 2] = 0x80)), /^PCK certificate SGX extension: sgxtcbcomp1svn \(1\.2\.840\.113741\.1\.13\.1\.2\.1\) is out of range$/],
    ['PCESVN not an INTEGER', edit((b) => (b[after(b, [2, 17])] = 0x04)), /^PCK certificate SGX extension: PCESVN \(1\.2\.840\.113741\.1\.13\.1\.2\.17\) is missing or not an INTEGER$/],
  ];
  for (const [name, editSgxExtension, message] of cases) {
    it(`${name} → PckExtensionMalformed`, async () => {
      const v = await verify({ editSgxExtension });
      expect(v.ok ? 'verified' : v.failure.code).toBe('PckExtensionMalformed');
      expect(v.ok ? '' : v.failure.message).toMatch(message);
    });
  }

  it('the unedited extension decodes to the fixture platform (FMSPC, PCE-ID, SVNs)', async () => {
    const v = await verify({ editSgxExtension: (d) => d });
    if (!v.ok) throw new Error(v.failure.message);
    const e = v.report.pck.extension;
    expect([Buffer.from(e.fmspc).toString('hex'), Buffer.from(e.pceId).toString('hex'), e.tcbComponents.length, e.cpuSvn.length, e.ppid.length]).toEqual(['b0c06f000000', '0000', 16, 16, 16]);
    expect(e.pceSvn).toBeGreaterThan(0);
  });
});

describe('chain names and collateral shapes', () => {
  const failure = (v: TdxQuoteVerdict) => (v.ok ? 'verified' : v.failure);

  it('a PCK chain through the Processor CA verifies and reports caType processor', async () => {
    const v = await verify({ names: { pckCa: 'Intel SGX PCK Processor CA' } });
    expect(v.ok ? [v.report.pck.caType, v.report.tcb.status] : v.failure).toEqual(['processor', 'UpToDate']);
  });

  it('a PCK CA under another name is refused in the PCK CRL issuer chain and in the quote chain', async () => {
    expect(failure(await verify({ names: { pckCa: 'Intel SGX PCK Other CA' } }))).toEqual({
      code: 'CrlIssuerMismatch',
      message: 'PCK CRL issuer chain starts with "Intel SGX PCK Other CA", not a PCK Platform/Processor CA',
    });
    expect(failure(await verify({ names: { pckCa: 'Intel SGX PCK Other CA' }, pckCrlIssuer: 'reissued' }))).toEqual({
      code: 'CertificateChainInvalid',
      message: 'PCK intermediate subject CN is "Intel SGX PCK Other CA", not a PCK Platform/Processor CA',
    });
  });

  it('a PCK leaf under another name is CertificateChainInvalid', async () => {
    expect(failure(await verify({ names: { pckLeaf: 'Intel SGX PCK Certificate X' } }))).toEqual({
      code: 'CertificateChainInvalid',
      message: 'PCK leaf subject CN is "Intel SGX PCK Certificate X", expected "Intel SGX PCK Certificate"',
    });
  });

  it('TCB Info signed by a certificate that is not the TCB signer is CertificateChainInvalid', async () => {
    expect(failure(await verify({ names: { tcbSigner: 'Intel SGX PCK Platform CA' } }))).toEqual({
      code: 'CertificateChainInvalid',
      message: 'TCB Info is signed by "Intel SGX PCK Platform CA", expected "Intel SGX TCB Signing"',
    });
  });

  it('a root listed in its own CRL is CertificateRevoked', async () => {
    expect(failure(await verify({ rootCrlRevokes: ['01'] }))).toEqual({ code: 'CertificateRevoked', message: 'the Intel SGX Root CA is listed in its own CRL' });
  });

  it('a QE Identity that is not TD_QE v2 is QeIdentityMalformed, naming the field', async () => {
    expect(failure(await verify({ editQeIdentity: (i) => (i.version = 3) }))).toMatchObject({ code: 'QeIdentityMalformed', message: expect.stringMatching(/^QE Identity is not a TD_QE identity v2 \(version: /) as unknown });
  });
});
