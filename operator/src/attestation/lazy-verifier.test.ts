import { describe, expect, it } from 'vitest';
import { lazyVerifier } from './lazy-verifier.ts';
import type { Verifier } from './verifier.ts';

const input = { evidence: {}, expectedReportData: new Uint8Array(48), at: new Date(0), policy: {} as never };

describe('lazyVerifier', () => {
  it('loads once, on first use, and delegates', async () => {
    let loads = 0;
    const inner: Verifier = { tee: 'tdx', verify: async () => ({ ok: false, failure: { code: 'QuoteMalformed', message: 'inner' } }) };
    const v = lazyVerifier('tdx', async () => (loads++, inner));
    expect(loads).toBe(0);
    expect(await v.verify(input)).toEqual({ ok: false, failure: { code: 'QuoteMalformed', message: 'inner' } });
    await v.verify(input);
    expect(loads).toBe(1);
  });
  it('retries the import after a failed load', async () => {
    let calls = 0;
    const v = lazyVerifier('nvidia', async () => {
      if (calls++ === 0) throw new Error('boom');
      return { tee: 'nvidia', verify: async () => ({ ok: false, failure: { code: 'RimMismatch', message: '' } }) };
    });
    await expect(v.verify(input)).rejects.toThrow('boom');
    expect(await v.verify(input)).toMatchObject({ ok: false, failure: { code: 'RimMismatch' } });
  });
});
