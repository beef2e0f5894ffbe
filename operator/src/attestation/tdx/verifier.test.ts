import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { AttestationPolicySpecSchema } from '../../api/attestation-policy.ts';
import { CCEL_FIXTURES, TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { loadCollateralDir } from './collateral-dir.ts';
import { staticCollateralSource } from './collateral-source.ts';
import { createTdxVerifier } from './verifier.ts';
import { parseCcel } from './ccel.ts';
import type { EvidenceToVerify } from '../verifier.ts';
import { TdxError } from './errors.ts';
import { createTdxMemo } from './memo.ts';
import { parseTdxQuote } from './quote.ts';
import type { TdxCollateralSource } from './collateral-source.ts';

// GCP COS 113 quote (FMSPC 00806F050000) and the CCEL of the same boot, with Intel collateral of June 2025.
const quote = readFileSync(join(CCEL_FIXTURES, 'gcp-cos113-go-tdx-guest', 'quote.bin'));
const ccel = readFileSync(join(CCEL_FIXTURES, 'gcp-cos113-go-tdx-guest', 'ccel_data.bin'));
const at = new Date('2025-06-05T03:45:00Z');
const collateralDir = join(TDX_FIXTURES, 'v4-00806f050000', 'collateral-2025-06');

async function verifierWith(urls: string[] = []) {
  const collateral = await loadCollateralDir(collateralDir);
  return createTdxVerifier({
    collateralFor: (url) => {
      urls.push(url);
      return staticCollateralSource(collateral, ['collateral served from cache, PCCS unreachable since 2025-06-05T03:00:00.000Z']);
    },
  });
}

function input(evidence: EvidenceToVerify['evidence'], over: Partial<EvidenceToVerify> = {}, tdx: Record<string, unknown> = {}): EvidenceToVerify {
  return {
    evidence,
    expectedReportData: new Uint8Array(48),
    at,
    policy: AttestationPolicySpecSchema.parse({ tdx: { pccsUrl: 'https://pccs.example.test/tdx/certification/v4', ...tdx } }),
    ...over,
  };
}

const wire = (q: Buffer, log: Buffer | null) => ({ cc_eventlog: log ? log.toString('base64') : null, quote: q.toString('base64') });

describe('createTdxVerifier', () => {
  it('verifies quote + CCEL and emits the flat claims', async () => {
    const urls: string[] = [];
    const v = await verifierWith(urls);
    expect(v.tee).toBe('tdx');
    const r = await v.verify(input(wire(quote, ccel)));
    if (!r.ok) throw new Error(`${r.failure.code}: ${r.failure.message}`);
    expect(urls).toEqual(['https://pccs.example.test/tdx/certification/v4']);
    const c = r.verified.claims;
    expect(r.verified.teeClass).toBe('cpu');
    expect(c.mr_td).toBe('dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a');
    expect(c.rtmr0).toBe('3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6');
    expect(c.report_data).toBe('0'.repeat(128));
    expect(c.fmspc).toBe('00806f050000');
    expect(c.quote_version).toBe(4);
    expect(c.debug).toBe(false);
    expect(typeof c.tcb_status).toBe('string');
    expect(Array.isArray(c.advisory_ids)).toBe(true);
    expect(c.event_log).toBe('verified');
    expect(c.uki_digests).toEqual([
      '5a10026c9ad41d1f90dc9cfe88bcabe1842ccfd85495c81b1a1ab926a9ef23b5d2e60eefeba0415bbe5c8c328a899a0a',
      'b1fb7f4c0689f5a920b800b2607075f4906f8c8282d44e56fc991ec01f1adac176d2040a26f1453df112d7c4f4293fc9',
    ]);
    for (const k of ['mr_seam', 'mr_signer_seam', 'mr_config_id', 'mr_owner', 'mr_owner_config', 'rtmr1', 'rtmr2', 'rtmr3', 'td_attributes', 'xfam', 'tee_tcb_svn']) {
      expect(c[k], k).toMatch(/^[0-9a-f]+$/);
    }
    expect(r.verified.warnings[0]).toMatch(/PCCS unreachable since/);
  });

  it('rejects a REPORTDATA that is not the expected digest', async () => {
    const r = await (await verifierWith()).verify(input(wire(quote, ccel), { expectedReportData: new Uint8Array(48).fill(1) }));
    expect(r.ok ? 'ok' : r.failure.code).toBe('ReportDataMismatch');
  });

  it('rejects an init-data digest that is not MRCONFIGID', async () => {
    const r = await (await verifierWith()).verify(input(wire(quote, ccel), { initDataDigest: new Uint8Array(48).fill(7) }));
    expect(r.ok ? 'ok' : r.failure.code).toBe('InitDataMismatch');
  });

  it('requires the event log by default, and reports it absent when the policy allows', async () => {
    const v = await verifierWith();
    const r = await v.verify(input(wire(quote, null)));
    expect(r.ok ? 'ok' : r.failure.code).toBe('EventLogMissing');
    const relaxed = await v.verify(input(wire(quote, null), {}, { requireEventLog: false }));
    if (!relaxed.ok) throw new Error(relaxed.failure.message);
    expect(relaxed.verified.claims.event_log).toBe('absent');
    expect(relaxed.verified.claims.uki_digests).toEqual([]);
  });

  it('a modified event log is rejected naming the RTMR', async () => {
    const bad = new Uint8Array(ccel);
    const grub = parseCcel(bad).events.find((e) => e.index === 24);
    const digest = grub?.digests.get(0x000c);
    if (!digest) throw new Error('fixture event 24 has no SHA-384 digest');
    const at = digest.byteOffset - bad.byteOffset;
    bad[at] = (bad[at] ?? 0) ^ 0x80;
    const r = await (await verifierWith()).verify(input(wire(quote, Buffer.from(bad))));
    expect(r.ok ? 'ok' : r.failure.code).toBe('RtmrMismatch');
    if (!r.ok) expect(r.failure.message).toMatch(/: RTMR1 replayed [0-9a-f]{96} but the quote has f62dbc07/);
  });

  it('rejects malformed evidence with a specific reason', async () => {
    const v = await verifierWith();
    const cases: [EvidenceToVerify['evidence'], RegExp][] = [
      ['a string', /must be a JSON object/],
      [{ quote: 'not base64!' }, /"quote" is not standard base64/],
      [{ quote: quote.toString('base64url') }, /"quote" is not standard base64/],
      [{ quote: quote.toString('base64'), cc_eventlog: 12 }, /"cc_eventlog" is not standard base64/],
    ];
    for (const [evidence, message] of cases) {
      const r = await v.verify(input(evidence));
      expect(r.ok ? 'ok' : r.failure.code).toBe('EvidenceMalformed');
      if (!r.ok) expect(r.failure.message).toMatch(message);
    }
  });

  it('ignores unknown evidence fields (legacy aa_eventlog) and says so', async () => {
    const r = await (await verifierWith()).verify(input({ ...wire(quote, ccel), aa_eventlog: 'INIT sha384/00' }));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.verified.warnings).toContain('TDX evidence fields ignored (not verified): aa_eventlog');
  });

  it('reports an unreachable collateral source as CollateralUnavailable', async () => {
    const v = createTdxVerifier({ collateralFor: () => ({ get: () => Promise.reject(new Error('connect ECONNREFUSED')) }) });
    const r = await v.verify(input(wire(quote, ccel)));
    expect(r.ok ? 'ok' : r.failure.code).toBe('CollateralUnavailable');
    if (!r.ok) expect(r.failure.message).toMatch(/ECONNREFUSED/);
  });

  it('rejects at a time outside the collateral window', async () => {
    const r = await (await verifierWith()).verify(input(wire(quote, ccel), { at: new Date('2025-08-01T00:00:00Z') }));
    expect(r.ok ? 'ok' : r.failure.code).toMatch(/Expired$/);
  });

  it('rejects malformed evidence before decoding it, with the exact reason', async () => {
    const v = await verifierWith();
    const notB64 = (field: string) => ({ code: 'EvidenceMalformed', message: `TDX evidence field "${field}" is not standard base64` });
    const cases: [EvidenceToVerify['evidence'], { code: string; message: string }][] = [
      [null, { code: 'EvidenceMalformed', message: 'TDX evidence must be a JSON object {"cc_eventlog", "quote"}' }],
      [{}, notB64('quote')],
      [{ quote: '' }, notB64('quote')],
      // Decodes (Node ignores the extra bits) but is not the canonical encoding of its bytes.
      [{ quote: 'AB==' }, notB64('quote')],
      // Array-like: Buffer.from would allocate `length` bytes if the type were not checked first.
      [{ quote: { length: 2 ** 53 } }, notB64('quote')],
      [{ quote: quote.toString('base64'), cc_eventlog: '' }, notB64('cc_eventlog')],
    ];
    for (const [evidence, failure] of cases) {
      const r = await v.verify(input(evidence));
      expect(r.ok ? 'ok' : r.failure, JSON.stringify(evidence)).toEqual(failure);
    }
  });

  it('a missing cc_eventlog is the same as null', async () => {
    const r = await (await verifierWith()).verify(input({ quote: quote.toString('base64') }, {}, { requireEventLog: false }));
    expect(r.ok ? r.verified.claims.event_log : r.failure).toBe('absent');
  });

  it('expected report data must be 48 bytes, and REPORTDATA must be it zero-padded', async () => {
    const v = await verifierWith();
    // The quote's REPORTDATA is 64 zero bytes, so only the length check refuses 32 or 64 zero bytes.
    for (const n of [32, 64]) {
      const r = await v.verify(input(wire(quote, ccel), { expectedReportData: new Uint8Array(n) }));
      expect(r.ok ? 'ok' : r.failure).toEqual({ code: 'ReportDataMismatch', message: `expected report data must be 48 bytes (SHA-384), got ${n}` });
    }
    const r = await v.verify(input(wire(quote, ccel), { expectedReportData: new Uint8Array(48).fill(1) }));
    expect(r.ok ? 'ok' : r.failure).toEqual({ code: 'ReportDataMismatch', message: 'quote REPORTDATA is not the runtime-data digest zero-padded to 64 bytes' });
  });

  it('init-data digest: zero-padded to MRCONFIGID, at most 48 bytes', async () => {
    const v = await verifierWith();
    const mrConfigId = parseTdxQuote(new Uint8Array(quote)).body.mrConfigId;
    expect(Buffer.from(mrConfigId).toString('hex')).toBe('0'.repeat(96));
    for (const n of [32, 48]) {
      const r = await v.verify(input(wire(quote, ccel), { initDataDigest: new Uint8Array(n) }));
      expect(r.ok ? 'ok' : r.failure, `${n} bytes`).toBe('ok');
    }
    const long = await v.verify(input(wire(quote, ccel), { initDataDigest: new Uint8Array(49) }));
    expect(long.ok ? 'ok' : long.failure).toEqual({ code: 'InitDataMismatch', message: 'init-data digest is longer than MRCONFIGID (48 bytes)' });
    const other = await v.verify(input(wire(quote, ccel), { initDataDigest: new Uint8Array(48).fill(7) }));
    expect(other.ok ? 'ok' : other.failure).toEqual({ code: 'InitDataMismatch', message: `MRCONFIGID ${'0'.repeat(96)} is not the init-data digest zero-padded to 48 bytes` });
  });

  it('lists every ignored field and reports tee "tdx"', async () => {
    const r = await (await verifierWith()).verify(input({ ...wire(quote, ccel), aa_eventlog: 'x', extra: 1 }));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.verified.tee).toBe('tdx');
    expect(r.verified.warnings).toContain('TDX evidence fields ignored (not verified): aa_eventlog, extra');
  });

  it('a TdxError from the collateral source keeps its code and message', async () => {
    const v = createTdxVerifier({ collateralFor: () => ({ get: () => Promise.reject(new TdxError('TcbInfoMalformed', 'TCB Info from PCCS has no tcbLevels')) }) });
    const r = await v.verify(input(wire(quote, ccel)));
    expect(r.ok ? 'ok' : r.failure).toEqual({ code: 'TcbInfoMalformed', message: 'TCB Info from PCCS has no tcbLevels' });
  });

  it('uses the memo it is given', async () => {
    const collateral = await loadCollateralDir(collateralDir);
    const memo = createTdxMemo();
    const r = await createTdxVerifier({ collateralFor: () => staticCollateralSource(collateral), memo }).verify(input(wire(quote, ccel)));
    expect(r.ok ? 'ok' : r.failure).toBe('ok');
    expect([memo.collateral.size, memo.pckChains.size]).toEqual([1, 1]);
  });

  it('an unexpected exception becomes VerifierError, never a throw', async () => {
    const collateral = await loadCollateralDir(collateralDir);
    // A source that breaks its contract (no warnings array) makes the adapter itself fail.
    const broken = { get: () => Promise.resolve({ collateral }) } as unknown as TdxCollateralSource;
    const r = await createTdxVerifier({ collateralFor: () => broken }).verify(input(wire(quote, ccel)));
    expect(r.ok ? 'ok' : r.failure.code).toBe('VerifierError');
    if (!r.ok) expect(r.failure.message).toMatch(/^TDX verification failed unexpectedly: .*iterable/);
  });
});
