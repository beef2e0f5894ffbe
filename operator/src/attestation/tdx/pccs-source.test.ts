// createPccsCollateralSources passes each of its options through to the PCCS client and the cache, shown against
// a local PCCS serving real Intel collateral.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { startLocalPccs } from '../../../test/support/local-pccs.ts';
import type { LocalPccs } from '../../../test/support/local-pccs.ts';
import { createPccsCollateralSources } from './pccs-source.ts';

let pccs: LocalPccs;
beforeAll(async () => {
  pccs = await startLocalPccs(join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06'), 'B0C06F000000');
});
afterAll(() => pccs.close());
beforeEach(() => pccs.reset());

const pinned = Date.parse('2025-07-01T00:00:00Z');
const expiry = Date.parse('2025-07-19T10:00:35Z');
const req = (at: number) => ({ fmspc: 'b0c06f000000', caType: 'platform' as const, at: new Date(at) });
const tcbRequests = () => pccs.requests.filter((r) => r.path.startsWith('/tdx/certification/v4/tcb')).length;

describe('createPccsCollateralSources', () => {
  it('one cached source per PCCS URL', () => {
    const sources = createPccsCollateralSources({ now: () => pinned });
    expect(sources(pccs.base)).toBe(sources(pccs.base));
    expect(sources(pccs.base)).not.toBe(sources(`${pccs.base}/tdx/certification/v4`));
  });

  it('uses the given fetch, Root CA CRL URL and observer', async () => {
    const fetched: string[] = [];
    const counting: typeof fetch = (input, init) => {
      fetched.push(new URL(String(input)).pathname);
      return fetch(input, init);
    };
    const observed: string[] = [];
    const sources = createPccsCollateralSources({
      now: () => pinned,
      fetch: counting,
      rootCaCrlUrl: `${pccs.base}/crl/IntelSGXRootCA.der`,
      observer: { fetched: (fmspc) => observed.push(fmspc), servingStale: (stale) => observed.push(`stale=${stale}`) },
    });
    await sources(pccs.base).get(req(pinned));
    expect(fetched).toContain('/crl/IntelSGXRootCA.der');
    expect(fetched).toHaveLength(4);
    expect(observed).toEqual(['b0c06f000000', 'stale=false']);
  });

  it('uses the given timeout', async () => {
    pccs.behavior.delayMs = 300;
    const source = createPccsCollateralSources({ now: () => pinned, timeoutMs: 50 })(pccs.base);
    await expect(source.get(req(pinned))).rejects.toMatchObject({ code: 'CollateralUnavailable', message: expect.stringMatching(/no complete answer within 50 ms/) as unknown });
  });

  it('uses the given refresh-ahead instead of the default 24 h', async () => {
    const clock = { t: pinned };
    const source = createPccsCollateralSources({ now: () => clock.t, refreshAheadMs: 3600_000 })(pccs.base);
    await source.get(req(pinned));
    clock.t = expiry - 2 * 3600_000; // inside 24 h, outside 1 h
    await source.get(req(clock.t));
    expect(tcbRequests()).toBe(1);
  });

  it('verifies against the given root CA', async () => {
    const notIntelRoot = readFileSync(join(TDX_FIXTURES, 'common', 'intel_sgx_pck_platform_ca.pem'), 'utf8');
    const source = createPccsCollateralSources({ now: () => pinned, rootCaPem: notIntelRoot })(pccs.base);
    await expect(source.get(req(pinned))).rejects.toMatchObject({ code: 'RootCaMismatch' });
  });
});
