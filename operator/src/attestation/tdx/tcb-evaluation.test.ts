// The QE Identity and TCB evaluation rules in isolation: the real quotes' TD report, QE report and PCK SGX
// extension, evaluated against their real (schema-parsed) TCB Info and QE Identity, edited per case. Signatures
// are not involved here (resigned.test.ts runs the same rules through the full verification path).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { parseTdxQuote } from './quote.ts';
import type { EnclaveReport, TdReport } from './quote.ts';
import { parsePemChain } from './x509.ts';
import { parsePckExtension } from './pck-extension.ts';
import type { PckExtension } from './pck-extension.ts';
import { TdQeIdentitySchema, TdxTcbInfoSchema } from './collateral-schemas.ts';
import type { IsvsvnLevel, TdQeIdentity, TdxTcbInfo } from './collateral-schemas.ts';
import { evaluateQeIdentity, evaluateTcb } from './tcb-evaluation.ts';
import { tdxFailure } from '../../../test/support/tdx-failure.ts';

interface Fixture {
  body: TdReport;
  qe: EnclaveReport;
  pck: PckExtension;
  info: TdxTcbInfo;
  identity: TdQeIdentity;
}

function load(set: string, quoteFile: string, collateral: string): Fixture {
  const quote = parseTdxQuote(new Uint8Array(readFileSync(join(TDX_FIXTURES, set, quoteFile))));
  const leaf = parsePemChain(quote.pckChainPem, 'PCK certificate chain')[0];
  if (!leaf) throw new Error('fixture quote has no PCK leaf');
  const json = (name: string) => JSON.parse(readFileSync(join(TDX_FIXTURES, set, collateral, name), 'utf8')) as Record<string, unknown>;
  return {
    body: quote.body,
    qe: quote.qeReport,
    pck: parsePckExtension(leaf),
    info: TdxTcbInfoSchema.parse(json('tcb_info.json').tcbInfo),
    identity: TdQeIdentitySchema.parse(json('qe_identity.json').enclaveIdentity),
  };
}

// v4: TEE_TCB_SVN 06 01 03 (module TDX_01, isvsvn 6), PCK PCESVN 11, QE ISVSVN 6; TDX_01 levels 4 UpToDate, 2 OutOfDate.
const V4 = load('v4-b0c06f000000-phala', 'quote.bin', 'collateral-2025-06');
// v5 (TD 1.5): TEE_TCB_SVN 0b 01 04, TEE_TCB_SVN2 0d 01 04; latest platform level TDX components 5,0,3.
const V5 = load('v5-90c06f000000', 'quote_go-tdx-guest_v5_sample.bin', 'collateral-2026-02');

const clone = <T>(v: T): T => structuredClone(v);
const svns = (...first: number[]) => Uint8Array.from([...first, ...new Array<number>(16 - first.length).fill(0)]);
const withSvn = (body: TdReport, teeTcbSvn: Uint8Array, teeTcbSvn2?: Uint8Array): TdReport => {
  const b: TdReport = { ...body, teeTcbSvn };
  if (teeTcbSvn2) b.teeTcbSvn2 = teeTcbSvn2;
  return b;
};
const module01 = (info: TdxTcbInfo) => {
  const m = info.tdxModuleIdentities?.find((x) => x.id === 'TDX_01');
  if (!m) throw new Error('fixture has no TDX_01');
  return m;
};
const level = (isvsvn: number, tcbStatus: IsvsvnLevel['tcbStatus'], advisoryIDs?: string[]): IsvsvnLevel => ({ tcb: { isvsvn }, tcbDate: '2025-01-01T00:00:00Z', tcbStatus, ...(advisoryIDs ? { advisoryIDs } : {}) });
const qeLevel = level(4, 'UpToDate');

const failure = tdxFailure;

describe('evaluateQeIdentity', () => {
  it('the fixture QE matches its identity at level isvsvn 4', () => {
    expect(evaluateQeIdentity(V4.qe, V4.identity)).toMatchObject({ tcb: { isvsvn: 4 }, tcbStatus: 'UpToDate' });
  });

  it('picks the highest level at or below the QE ISVSVN, whatever order the levels are listed in', () => {
    const id = clone(V4.identity);
    id.tcbLevels = [level(1, 'OutOfDate'), level(2, 'OutOfDate'), level(5, 'SWHardeningNeeded'), level(9, 'UpToDate'), level(3, 'Revoked')];
    expect(evaluateQeIdentity(V4.qe, id)).toMatchObject({ tcb: { isvsvn: 5 }, tcbStatus: 'SWHardeningNeeded' });
  });

  it('names the failed identity check', () => {
    const cases: [string, (i: TdQeIdentity) => void, string, string][] = [
      ['mrsigner', (i) => (i.mrsigner = '00'.repeat(32)), 'QeIdentityMismatch', 'QE report MRSIGNER does not match the QE Identity mrsigner'],
      ['isvprodid', (i) => (i.isvprodid = 7), 'QeIdentityMismatch', 'QE report ISVPRODID 2 does not match the QE Identity isvprodid 7'],
      ['miscselect under a full mask', (i) => (i.miscselect = '00000001'), 'QeIdentityMismatch', 'QE report MISCSELECT does not match the QE Identity under its mask'],
      ['no level at or below the ISVSVN', (i) => (i.tcbLevels = [level(7, 'UpToDate')]), 'QeTcbNotSupported', 'no QE Identity TCB level has isvsvn <= the QE report ISVSVN 6'],
    ];
    for (const [, edit, code, message] of cases) {
      const id = clone(V4.identity);
      edit(id);
      expect(failure(() => evaluateQeIdentity(V4.qe, id))).toEqual({ code, message });
    }
  });

  it('a MISCSELECT bit outside the mask is ignored', () => {
    const id = clone(V4.identity);
    Object.assign(id, { miscselect: '00000001', miscselectMask: 'FFFFFFFE' });
    expect(failure(() => evaluateQeIdentity(V4.qe, id))).toBe('ok');
  });
});

describe('evaluateTcb: FMSPC, PCE-ID and the TDX module identity', () => {
  it('names the FMSPC and PCE-ID mismatches', () => {
    const info = clone(V4.info);
    info.fmspc = '00906ED50000';
    expect(failure(() => evaluateTcb(V4.body, V4.pck, info, qeLevel))).toEqual({ code: 'FmspcMismatch', message: 'PCK FMSPC b0c06f000000 does not match the TCB Info fmspc 00906ED50000' });
    const info2 = clone(V4.info);
    info2.pceId = '0001';
    expect(failure(() => evaluateTcb(V4.body, V4.pck, info2, qeLevel))).toEqual({ code: 'PceIdMismatch', message: 'PCK PCE-ID 0000 does not match the TCB Info pceId 0001' });
  });

  it('compares the PCE-ID case-insensitively (hex letters in the TCB Info)', () => {
    const info = clone(V4.info);
    info.pceId = 'ABCD';
    expect(evaluateTcb(V4.body, { ...V4.pck, pceId: Uint8Array.from([0xab, 0xcd]) }, info, qeLevel).status).toBe('UpToDate');
  });

  it('TEE_TCB_SVN[1] = 0: the tdxModule identity applies, no module level, and TEE_TCB_SVN[0..1] count for the platform level', () => {
    const r = evaluateTcb(withSvn(V4.body, svns(6, 0, 3)), V4.pck, V4.info, qeLevel);
    expect(r).toEqual({ status: 'UpToDate', advisoryIds: [], platformStatus: 'UpToDate', platformTcbDate: V4.info.tcbLevels[0]?.tcbDate, qeStatus: 'UpToDate', tdRelaunchAdvised: false });
    expect('moduleStatus' in r).toBe(false);
    // TDX component 0 of every platform level is 5: with SVN[1] = 0 a module ISVSVN of 4 is below it.
    expect(failure(() => evaluateTcb(withSvn(V4.body, svns(4, 0, 3)), V4.pck, V4.info, qeLevel))).toMatchObject({ code: 'TcbLevelNotFound' });
    // With a module (SVN[1] > 0) the same ISVSVN is judged by the module's levels instead.
    expect(evaluateTcb(withSvn(V4.body, svns(4, 1, 3)), V4.pck, V4.info, qeLevel)).toMatchObject({ platformStatus: 'UpToDate', moduleStatus: 'UpToDate' });
  });

  it('finds module identity TDX_0A for version 10 even when the TCB Info spells it in lower case', () => {
    const info = clone(V4.info);
    info.tdxModuleIdentities = [{ ...module01(info), id: 'tdx_0a', tcbLevels: [level(6, 'SWHardeningNeeded', ['INTEL-SA-00010'])] }];
    expect(evaluateTcb(withSvn(V4.body, svns(6, 10, 3)), V4.pck, info, qeLevel)).toMatchObject({ moduleStatus: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00010'] });
  });

  it('names the module identity checks that fail', () => {
    const noIdentities = clone(V4.info);
    delete noIdentities.tdxModuleIdentities;
    const seamAttr = clone(V4.info);
    module01(seamAttr).attributes = '0000000000000001';
    const seamSigner = clone(V4.info);
    module01(seamSigner).mrsigner = 'ff'.repeat(48);
    const below = withSvn(V4.body, svns(1, 1, 3));
    expect(failure(() => evaluateTcb(V4.body, V4.pck, noIdentities, qeLevel))).toEqual({ code: 'TdxModuleMismatch', message: 'TCB Info has no TDX module identity TDX_01 for TEE_TCB_SVN[1] = 1' });
    expect(failure(() => evaluateTcb(V4.body, V4.pck, seamAttr, qeLevel))).toEqual({ code: 'TdxModuleMismatch', message: 'quote SEAMATTRIBUTES do not match the TDX module identity attributes under its mask' });
    expect(failure(() => evaluateTcb(V4.body, V4.pck, seamSigner, qeLevel))).toEqual({ code: 'TdxModuleMismatch', message: 'quote MRSIGNERSEAM does not match the TDX module identity mrsigner' });
    expect(failure(() => evaluateTcb(below, V4.pck, V4.info, qeLevel))).toEqual({ code: 'TcbLevelNotFound', message: 'no TDX module TCB level has isvsvn <= TEE_TCB_SVN[0] = 1' });
  });
});

describe('evaluateTcb: platform level and convergence', () => {
  it('a level whose PCESVN is above the PCK PCESVN does not match, even when its SGX components do', () => {
    const info = clone(V4.info);
    const first = info.tcbLevels[0];
    if (!first) throw new Error('no level');
    first.tcb.pcesvn = V4.pck.pceSvn + 1;
    expect(evaluateTcb(V4.body, V4.pck, info, qeLevel).platformStatus).toBe('OutOfDate');
  });

  it('an OutOfDate module degrades SWHardeningNeeded to OutOfDate and ConfigurationAndSWHardeningNeeded to OutOfDateConfigurationNeeded', () => {
    const expectations: [IsvsvnLevel['tcbStatus'], string][] = [
      ['UpToDate', 'OutOfDate'],
      ['SWHardeningNeeded', 'OutOfDate'],
      ['ConfigurationNeeded', 'OutOfDateConfigurationNeeded'],
      ['ConfigurationAndSWHardeningNeeded', 'OutOfDateConfigurationNeeded'],
    ];
    for (const [platform, want] of expectations) {
      const info = clone(V4.info);
      Object.assign(info.tcbLevels[0] ?? {}, { tcbStatus: platform });
      module01(info).tcbLevels = [level(6, 'OutOfDate')];
      expect([platform, evaluateTcb(V4.body, V4.pck, info, qeLevel).status]).toEqual([platform, want]);
    }
  });
});

describe('evaluateTcb: TD 1.5 relaunch advice', () => {
  // TDX_01 levels: newest 13 UpToDate, then 11 OutOfDate (the running module, TEE_TCB_SVN[0] = 11).
  const outOfDateModule = (info: TdxTcbInfo) => (module01(info).tcbLevels = [level(13, 'UpToDate'), level(11, 'OutOfDate')]);
  const advised = (edit: (info: TdxTcbInfo) => void, svn2 = svns(13, 1, 4), qe: IsvsvnLevel = qeLevel, svn = svns(11, 1, 4)) => {
    const info = clone(V5.info);
    outOfDateModule(info);
    edit(info);
    return evaluateTcb(withSvn(V5.body, svn, svn2), V5.pck, info, qe);
  };

  it('is advised when everything but the running module is current and TEE_TCB_SVN2 shows the newest module', () => {
    expect(advised(() => undefined)).toMatchObject({ status: 'OutOfDate', moduleStatus: 'OutOfDate', tdRelaunchAdvised: true });
  });

  it('is not advised for a TD 1.0 report (no TEE_TCB_SVN2)', () => {
    const info = clone(V4.info);
    module01(info).tcbLevels = [level(6, 'OutOfDate')];
    expect(evaluateTcb(V4.body, V4.pck, info, qeLevel)).toMatchObject({ moduleStatus: 'OutOfDate', tdRelaunchAdvised: false });
  });

  it('is not advised when the QE is OutOfDate or Revoked', () => {
    expect(advised(() => undefined, svns(13, 1, 4), level(4, 'OutOfDate')).tdRelaunchAdvised).toBe(false);
    expect(advised(() => undefined, svns(13, 1, 4), level(4, 'Revoked')).tdRelaunchAdvised).toBe(false);
  });

  it('is advised for OutOfDateConfigurationNeeded, not for a Revoked platform level', () => {
    const r = advised((info) => Object.assign(info.tcbLevels[0] ?? {}, { tcbStatus: 'ConfigurationNeeded' }));
    expect([r.status, r.tdRelaunchAdvised]).toEqual(['OutOfDateConfigurationNeeded', true]);
    // The latest level needs TDX component 2 = 5 (met by TEE_TCB_SVN2, not by the running TEE_TCB_SVN), so the
    // platform level is the second one; make it Revoked while the first (SGX-only match) stays UpToDate.
    const revoked = advised((info) => {
      const [first, second] = info.tcbLevels;
      if (!first?.tcb.tdxtcbcomponents[2] || !second) throw new Error('levels');
      first.tcb.tdxtcbcomponents[2].svn = 5;
      second.tcbStatus = 'Revoked';
    }, svns(13, 1, 5));
    expect([revoked.platformStatus, revoked.tdRelaunchAdvised]).toEqual(['Revoked', false]);
  });

  it('is not advised when the running module is current, even with an OutOfDate platform level', () => {
    const r = advised(
      (info) => {
        const c = info.tcbLevels[0]?.tcb.tdxtcbcomponents[2];
        if (c) c.svn = 5;
      },
      svns(13, 1, 5),
      qeLevel,
      svns(13, 1, 4),
    );
    expect([r.platformStatus, r.moduleStatus, r.tdRelaunchAdvised]).toEqual(['OutOfDate', 'UpToDate', false]);
  });

  it('is not advised when the platform level found by the SGX components alone is not current', () => {
    const r = advised((info) => Object.assign(info.tcbLevels[0] ?? {}, { tcbStatus: 'OutOfDate' }));
    expect([r.status, r.tdRelaunchAdvised]).toEqual(['OutOfDate', false]);
  });

  it('compares TEE_TCB_SVN2[2] with the latest level (equal is enough, below is not)', () => {
    expect(advised(() => undefined, svns(13, 1, 2)).tdRelaunchAdvised).toBe(false);
    const equal = advised((info) => {
      const c = info.tcbLevels[0]?.tcb.tdxtcbcomponents[2];
      if (c) c.svn = 4;
    });
    expect(equal.tdRelaunchAdvised).toBe(true);
  });

  it('with TEE_TCB_SVN2[1] = 0 compares TEE_TCB_SVN2[0] with the latest level (equal is enough)', () => {
    // Latest level TDX component 0 is 5.
    expect(advised(() => undefined, svns(13, 0, 4)).tdRelaunchAdvised).toBe(true);
    expect(advised(() => undefined, svns(5, 0, 4)).tdRelaunchAdvised).toBe(true);
    expect(advised(() => undefined, svns(4, 0, 4)).tdRelaunchAdvised).toBe(false);
  });

  it('looks up the loaded module TDX_0A by TEE_TCB_SVN2[1] = 10', () => {
    const withModule0A = (info: TdxTcbInfo) => info.tdxModuleIdentities?.push({ ...module01(info), id: 'TDX_0A', tcbLevels: [level(3, 'UpToDate')] });
    expect(advised(withModule0A, svns(13, 10, 4)).tdRelaunchAdvised).toBe(true);
    expect(advised(withModule0A, svns(2, 10, 4)).tdRelaunchAdvised).toBe(false);
  });
});
