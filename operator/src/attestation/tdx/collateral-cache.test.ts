// The caching collateral source over real collateral folders (loadCollateralDir as the fetcher; an outage is the
// folder going missing): the cache-hit, refresh-ahead and expiry boundaries, one fetch for concurrent lookups,
// the errors when nothing verified is left, and what the observer is told.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { loadCollateralDir } from './collateral-dir.ts';
import type { TdxCollateral } from './collateral.ts';
import { createCachingCollateralSource } from './collateral-cache.ts';
import type { CachingCollateralSourceOptions } from './collateral-cache.ts';

const B0C0 = join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06');
const SPR = join(TDX_FIXTURES, 'v4-00806f050000', 'collateral-2025-06');
const GONE = join(TDX_FIXTURES, 'no-such-collateral');
const ROOT = readFileSync(join(TDX_FIXTURES, 'common', 'intel_sgx_root_ca.pem'), 'utf8');
const pinned = Date.parse('2025-07-01T00:00:00Z');
// The earliest nextUpdate / notAfter in the B0C0 bundle (TCB Info and the CRLs): the cache expiry.
const expiry = Date.parse('2025-07-19T10:00:35Z');
const HOUR = 3600_000;

interface Harness {
  clock: { t: number };
  dir: { path: string };
  fetches: () => number;
  seen: string[];
  source: ReturnType<typeof createCachingCollateralSource>;
}

function harness(over: Partial<CachingCollateralSourceOptions> = {}, fetch?: (dir: string) => Promise<TdxCollateral>): Harness {
  const clock = { t: pinned };
  const dir = { path: B0C0 };
  let n = 0;
  const seen: string[] = [];
  const source = createCachingCollateralSource({
    fetchCollateral: () => {
      n++;
      return (fetch ?? loadCollateralDir)(dir.path);
    },
    now: () => clock.t,
    sourceName: 'pccs.test',
    rootCaPem: ROOT,
    observer: { fetched: (fmspc) => seen.push(`fetched ${fmspc}`), servingStale: (stale) => seen.push(`stale=${stale}`) },
    ...over,
  });
  return { clock, dir, fetches: () => n, seen, source };
}
const req = (at: number, fmspc = 'b0c06f000000') => ({ fmspc, caType: 'platform' as const, at: new Date(at) });

describe('caching collateral source: when the cache answers', () => {
  it('answers from cache, without warnings, until 24 h (the default refresh-ahead) before expiry', async () => {
    const h = harness();
    const first = await h.source.get(req(pinned));
    const hit = await h.source.get(req(pinned));
    expect([h.fetches(), hit.warnings]).toEqual([1, []]);
    expect(hit.collateral).toBe(first.collateral);
    h.clock.t = expiry - 24 * HOUR - 1;
    await h.source.get(req(h.clock.t));
    expect(h.fetches()).toBe(1);
    h.clock.t = expiry - 24 * HOUR;
    await h.source.get(req(h.clock.t));
    expect(h.fetches()).toBe(2);
  });

  it('one fetch serves concurrent lookups of the same FMSPC', async () => {
    const h = harness();
    const [a, b] = await Promise.all([h.source.get(req(pinned)), h.source.get(req(pinned))]);
    expect([h.fetches(), a.collateral === b.collateral]).toEqual([1, true]);
  });

  it('serves the cached copy with a warning while the source fails, up to but not at its expiry', async () => {
    const h = harness();
    await h.source.get(req(pinned));
    expect(h.source.unreachableSince()).toBeUndefined();
    h.dir.path = GONE;
    h.clock.t = expiry - HOUR;
    const stale = await h.source.get(req(h.clock.t));
    expect(stale.warnings).toEqual([
      `collateral served from cache, PCCS unreachable since 2025-07-19T09:00:35.000Z (collateral directory ${GONE} has no tcb_info_issuer_chain.pem); cached collateral expires at 2025-07-19T10:00:35.000Z`,
    ]);
    expect(h.source.unreachableSince()?.toISOString()).toBe('2025-07-19T09:00:35.000Z');
    const expired = `no verified unexpired collateral for FMSPC b0c06f000000: collateral directory ${GONE} has no tcb_info_issuer_chain.pem; the cached collateral expired at 2025-07-19T10:00:35.000Z`;
    // At the expiry instant, by the clock or by the verification time, the copy is no longer served.
    h.clock.t = expiry;
    await expect(h.source.get(req(pinned))).rejects.toMatchObject({ code: 'CollateralUnavailable', message: expired });
    h.clock.t = pinned;
    await expect(h.source.get(req(expiry))).rejects.toMatchObject({ code: 'CollateralUnavailable', message: expired });
    expect(h.seen).toEqual(['fetched b0c06f000000', 'stale=false', 'stale=true', 'stale=false', 'stale=false']);
    // The source recovers: fresh collateral, and no longer unreachable.
    h.dir.path = B0C0;
    h.clock.t = expiry - HOUR;
    expect((await h.source.get(req(h.clock.t))).warnings).toEqual([]);
    expect(h.source.unreachableSince()).toBeUndefined();
  });
});

describe('caching collateral source: errors', () => {
  it('with nothing cached, an unavailable source is CollateralUnavailable naming the FMSPC and the cause', async () => {
    const h = harness();
    h.dir.path = GONE;
    await expect(h.source.get(req(pinned))).rejects.toMatchObject({
      code: 'CollateralUnavailable',
      message: `no verified unexpired collateral for FMSPC b0c06f000000: collateral directory ${GONE} has no tcb_info_issuer_chain.pem`,
    });
    expect(h.seen).toEqual(['stale=false']);
  });

  it('collateral for another FMSPC is FmspcMismatch, naming the source and both FMSPCs', async () => {
    const h = harness();
    h.dir.path = SPR;
    const at = Date.parse('2025-06-05T03:45:00Z');
    h.clock.t = at;
    await expect(h.source.get(req(at))).rejects.toMatchObject({ code: 'FmspcMismatch', message: 'pccs.test returned TCB Info for FMSPC 00806f050000, asked for b0c06f000000' });
  });

  it('a verification failure keeps its code and names the source', async () => {
    const h = harness({}, async (d) => ({ ...(await loadCollateralDir(d)), rootCaCrl: new Uint8Array([0x30, 0x00]) }));
    await expect(h.source.get(req(pinned))).rejects.toMatchObject({ code: 'CrlMalformed', message: 'pccs.test returned collateral that failed verification: Root CA CRL is not a CertificateList' });
  });

  it('a fetcher result that is not collateral at all (a programming error) is reported as unavailable, not as a verification code', async () => {
    const h = harness({}, async (d) => ({ ...(await loadCollateralDir(d)), qeIdentityIssuerChain: undefined as unknown as string }));
    await expect(h.source.get(req(pinned))).rejects.toMatchObject({ code: 'CollateralUnavailable', message: expect.stringMatching(/^no verified unexpired collateral for FMSPC b0c06f000000: /) as unknown });
  });
});
