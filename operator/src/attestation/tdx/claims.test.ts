// Claims built from real verified reports (fixture quotes at their pinned times) and a captured AAEL log.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CCEL_FIXTURES, TDX_FIXTURES, fixtureCases } from '../../../test/fixtures/tdx/fixtures.ts';
import { loadCollateralDir } from './collateral-dir.ts';
import { verifyTdxQuote } from './verify-quote.ts';
import type { TdxQuoteReport } from './verify-quote.ts';
import { tdAttributeFlags, tdxClaims } from './claims.ts';
import { parseCcel } from './ccel.ts';
import { replayCcel } from './replay.ts';

async function report(quote: Uint8Array, dir: string, at: Date): Promise<TdxQuoteReport> {
  const v = verifyTdxQuote({ quote, collateral: await loadCollateralDir(dir), at });
  if (!v.ok) throw new Error(`${v.failure.code}: ${v.failure.message}`);
  return v.report;
}
const v4 = () =>
  report(new Uint8Array(readFileSync(join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'quote.bin'))), join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06'), new Date('2025-07-01T00:00:00Z'));

describe('tdAttributeFlags', () => {
  it('reads each flag from its own bit of the little-endian TD attributes', () => {
    const none = { debug: false, septVeDisable: false, pks: false, kl: false, perfmon: false };
    const bit = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(1n << BigInt(n));
      return new Uint8Array(b);
    };
    expect(tdAttributeFlags(new Uint8Array(8))).toEqual(none);
    expect(tdAttributeFlags(bit(0))).toEqual({ ...none, debug: true });
    expect(tdAttributeFlags(bit(28))).toEqual({ ...none, septVeDisable: true });
    expect(tdAttributeFlags(bit(30))).toEqual({ ...none, pks: true });
    expect(tdAttributeFlags(bit(31))).toEqual({ ...none, kl: true });
    expect(tdAttributeFlags(bit(63))).toEqual({ ...none, perfmon: true });
  });
});

describe('tdxClaims', () => {
  it('a v4 quote without event log: no TD 1.5 fields, no AAEL events, the module status when known', async () => {
    const r = await v4();
    expect(r.tcb.moduleStatus).toBe('UpToDate');
    const c = tdxClaims(r, undefined);
    expect(c.tdx_module_tcb_status).toBe('UpToDate');
    expect(c.sept_ve_disable).toBe(tdAttributeFlags(r.quote.body.tdAttributes).septVeDisable);
    expect(Object.keys(c).filter((k) => ['tee_tcb_svn2', 'mr_servicetd', 'aael_events'].includes(k))).toEqual([]);
    expect([c.event_log, c.uki_digests]).toEqual(['absent', []]);
    const { moduleStatus: _unused, ...tcbWithoutModule } = r.tcb;
    expect('tdx_module_tcb_status' in tdxClaims({ ...r, tcb: tcbWithoutModule }, undefined)).toBe(false);
  });

  it('a v5 quote with a TD 1.5 body adds TEE_TCB_SVN2 and MRSERVICETD', async () => {
    const c5 = fixtureCases().find((c) => c.quoteFile === 'quote_go-tdx-guest_v5_sample.bin' && c.collateralName === 'collateral-2026-02');
    if (!c5) throw new Error('no verifying v5 fixture');
    const r = await report(c5.quote, c5.collateralDir, c5.at);
    const c = tdxClaims(r, undefined);
    expect(c.tee_tcb_svn2).toBe('0d010400000000000000000000000000');
    expect(c.mr_servicetd).toBe('0'.repeat(96));
  });

  it('with a replayed log: exactly the AAEL events, as domain/operation/content', async () => {
    const set = 'logs-without-quote';
    const exp = JSON.parse(readFileSync(join(CCEL_FIXTURES, set, 'expected.json'), 'utf8')) as { logs: Record<string, { event_log: { event_tags: { event_data_utf8: string }[] } }> };
    const tags = exp.logs['trustee_CCEL_AAEL_alibabacloud.bin']?.event_log.event_tags ?? [];
    expect(tags.length).toBeGreaterThan(0);
    const replay = replayCcel(parseCcel(new Uint8Array(readFileSync(join(CCEL_FIXTURES, set, 'trustee_CCEL_AAEL_alibabacloud.bin')))));
    const c = tdxClaims(await v4(), replay);
    expect(c.event_log).toBe('verified');
    expect(c.aael_events).toEqual(
      tags.map((t) => {
        const [domain, operation, ...rest] = t.event_data_utf8.split(' ');
        return { domain, operation, content: rest.join(' ') };
      }),
    );
  });
});
