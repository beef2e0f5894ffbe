// verifyTdxEvidence on the GCP COS 113 quote and CCEL of the same boot, with Intel collateral of June 2025.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CCEL_FIXTURES, TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { loadCollateralDir } from './collateral-dir.ts';
import { verifyTdxEvidence } from './evidence.ts';
import { createTdxMemo } from './memo.ts';

const quote = new Uint8Array(readFileSync(join(CCEL_FIXTURES, 'gcp-cos113-go-tdx-guest', 'quote.bin')));
const eventLog = new Uint8Array(readFileSync(join(CCEL_FIXTURES, 'gcp-cos113-go-tdx-guest', 'ccel_data.bin')));
const at = new Date('2025-06-05T03:45:00Z');
const collateral = () => loadCollateralDir(join(TDX_FIXTURES, 'v4-00806f050000', 'collateral-2025-06'));

describe('verifyTdxEvidence', () => {
  it('uses the memo it is given', async () => {
    const memo = createTdxMemo();
    const v = verifyTdxEvidence({ quote, eventLog, collateral: await collateral(), at, requireEventLog: true, memo });
    expect(v.ok ? v.claims.event_log : v.failure).toBe('verified');
    expect([memo.collateral.size, memo.pckChains.size, memo.attestationKeys.size]).toEqual([1, 1, 1]);
  });

  it('without an event log: EventLogMissing when required, else a warning and no replay', async () => {
    const c = await collateral();
    expect(verifyTdxEvidence({ quote, collateral: c, at, requireEventLog: true })).toEqual({
      ok: false,
      failure: { code: 'EventLogMissing', message: 'the policy requires a CC event log but the evidence has none' },
    });
    const v = verifyTdxEvidence({ quote, collateral: c, at, requireEventLog: false });
    if (!v.ok) throw new Error(v.failure.message);
    expect(v.warnings).toContain('no CC event log in the evidence: RTMR0-3 are reported but not explained by events');
    expect('replay' in v).toBe(false);
    expect(v.claims.event_log).toBe('absent');
  });

  it('with an event log: no missing-log warning, and the replay', async () => {
    const v = verifyTdxEvidence({ quote, eventLog, collateral: await collateral(), at, requireEventLog: false });
    if (!v.ok) throw new Error(v.failure.message);
    expect(v.warnings.filter((w) => w.startsWith('no CC event log'))).toEqual([]);
    expect(v.replay?.events.length).toBeGreaterThan(0);
  });
});
