// The PCCS client and collateral cache against a local HTTP server that serves the fixture collateral in the
// PCCS v4 wire format (URL-encoded PEM issuer-chain headers, DER/hex CRLs), including outages and tampering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestationPolicySpecSchema } from '../../api/attestation-policy.ts';
import { CCEL_FIXTURES, TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { fetchTdxCollateral, pccsEndpoints } from './pccs-client.ts';
import { createCachingCollateralSource, type CollateralObserver } from './collateral-cache.ts';
import { createPccsCollateralSources } from './pccs-source.ts';
import { createTdxVerifier } from './verifier.ts';
import { TdxError } from './errors.ts';

const B0C0 = { fmspc: 'B0C06F000000', dir: join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06') };
const SPR = { fmspc: '00806F050000', dir: join(TDX_FIXTURES, 'v4-00806f050000', 'collateral-2025-06') };
let served = B0C0;
const file = (name: string) => readFileSync(join(served.dir, name));
const pinned = Date.parse('2025-07-01T00:00:00Z');
// Earliest expiry in this bundle (TCB Info nextUpdate / CRLs): 2025-07-19T10:00:35Z.
const expiry = Date.parse('2025-07-19T10:00:35Z');

type Mode = 'ok' | 'down' | 'tamper-tcb' | 'no-chain-header' | 'http-500';
let mode: Mode = 'ok';
const hits: string[] = [];
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    hits.push(`${url.pathname}${url.search}`);
    if (mode === 'down') {
      req.socket.destroy();
      return;
    }
    if (mode === 'http-500') {
      res.writeHead(500).end('boom');
      return;
    }
    const chain = (name: string) => encodeURIComponent(file(name).toString('utf8'));
    if (url.pathname === '/tdx/certification/v4/tcb' && url.searchParams.get('fmspc') === served.fmspc) {
      let body = file('tcb_info.json');
      if (mode === 'tamper-tcb') body = Buffer.from(body.toString('utf8').replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18'));
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (mode !== 'no-chain-header') headers['TCB-Info-Issuer-Chain'] = chain('tcb_info_issuer_chain.pem');
      res.writeHead(200, headers).end(body);
    } else if (url.pathname === '/tdx/certification/v4/qe/identity') {
      res.writeHead(200, { 'SGX-Enclave-Identity-Issuer-Chain': chain('tcb_info_issuer_chain.pem') }).end(file('qe_identity.json'));
    } else if (url.pathname === '/sgx/certification/v4/pckcrl' && url.searchParams.get('ca') === 'platform') {
      res.writeHead(200, { 'SGX-PCK-CRL-Issuer-Chain': chain('pck_crl_issuer_chain.pem') }).end(file('pck_crl.der'));
    } else if (url.pathname === '/sgx/certification/v4/rootcacrl') {
      res.writeHead(200).end(file('root_ca_crl.der').toString('hex'));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const req = (at = pinned) => ({ fmspc: 'b0c06f000000', caType: 'platform' as const, at: new Date(at) });

describe('pccsEndpoints', () => {
  it('accepts a host root, the TDX path or the SGX path', () => {
    for (const u of ['https://pccs.example/', 'https://pccs.example/tdx/certification/v4', 'https://pccs.example/sgx/certification/v4/']) {
      expect(pccsEndpoints({ baseUrl: u })).toEqual({
        tdx: 'https://pccs.example/tdx/certification/v4',
        sgx: 'https://pccs.example/sgx/certification/v4',
        rootCaCrl: 'https://pccs.example/sgx/certification/v4/rootcacrl',
      });
    }
    expect(pccsEndpoints({ baseUrl: 'https://api.trustedservices.intel.com/tdx/certification/v4' }).rootCaCrl).toBe(
      'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der',
    );
    expect(() => pccsEndpoints({ baseUrl: 'file:///etc' })).toThrow(TdxError);
  });
});

describe('fetchTdxCollateral against a local PCCS', () => {
  it('fetches the four items with decoded issuer chains and CRLs', async () => {
    mode = 'ok';
    const c = await fetchTdxCollateral({ baseUrl: `${base}/tdx/certification/v4` }, 'b0c06f000000', 'platform');
    expect(Buffer.from(c.tcbInfoBody)).toEqual(file('tcb_info.json'));
    expect(c.tcbInfoIssuerChain).toBe(file('tcb_info_issuer_chain.pem').toString('utf8'));
    expect(Buffer.from(c.rootCaCrl)).toEqual(file('root_ca_crl.der'));
    expect(hits).toContain('/tdx/certification/v4/tcb?fmspc=B0C06F000000');
    expect(hits).toContain('/sgx/certification/v4/pckcrl?ca=platform&encoding=der');
  });

  it('names the missing issuer-chain header and HTTP errors', async () => {
    mode = 'no-chain-header';
    await expect(fetchTdxCollateral({ baseUrl: base }, 'b0c06f000000', 'platform')).rejects.toThrow(/no TCB-Info-Issuer-Chain/);
    mode = 'http-500';
    await expect(fetchTdxCollateral({ baseUrl: base }, 'b0c06f000000', 'platform')).rejects.toThrow(/returned HTTP 500/);
    mode = 'down';
    await expect(fetchTdxCollateral({ baseUrl: base }, 'b0c06f000000', 'platform')).rejects.toThrow(/failed/);
    await expect(fetchTdxCollateral({ baseUrl: base }, 'zz', 'platform')).rejects.toThrow(/not 6 bytes of hex/);
  });
});

describe('caching collateral source', () => {
  function source(clock: { t: number }, observer?: CollateralObserver) {
    return createCachingCollateralSource({
      fetchCollateral: (fmspc, caType) => fetchTdxCollateral({ baseUrl: base }, fmspc, caType),
      now: () => clock.t,
      refreshAheadMs: 24 * 3600_000,
      sourceName: base,
      ...(observer ? { observer } : {}),
    });
  }

  it('tells its observer each verified fetch (nextUpdate per kind) and whether it serves stale collateral', async () => {
    mode = 'ok';
    const clock = { t: pinned };
    const seen: string[] = [];
    const s = source(clock, {
      fetched: (fmspc, nextUpdates, at) => seen.push(`fetched ${fmspc} at ${at.toISOString()}: ${nextUpdates.map((n) => `${n.kind}=${n.at.toISOString()}`).sort().join(' ')}`),
      servingStale: (stale) => seen.push(`stale=${stale}`),
    });
    await s.get(req());
    await s.get(req()); // from cache, nothing to report
    mode = 'down';
    clock.t = expiry - 3600_000;
    await s.get(req(clock.t));
    mode = 'ok';
    expect(seen).toHaveLength(3);
    expect(seen[0]).toMatch(/^fetched b0c06f000000 at 2025-07-01T00:00:00.000Z: pck_crl=\S+ qe_identity=\S+ root_ca_crl=\S+ tcb_info=\S+$/);
    expect(seen[0]).toContain(`=${new Date(expiry).toISOString()}`); // the earliest of them is the cache expiry
    expect(seen.slice(1)).toEqual(['stale=false', 'stale=true']);
  });

  it('caches by FMSPC until refresh-ahead, then refreshes', async () => {
    mode = 'ok';
    const clock = { t: pinned };
    const s = source(clock);
    const tcbHits = () => hits.filter((h) => h.startsWith('/tdx/certification/v4/tcb')).length;
    const before = tcbHits();
    await s.get(req());
    expect(tcbHits() - before).toBe(1);
    await s.get(req());
    expect(tcbHits() - before).toBe(1);
    expect(s.snapshot()).toEqual([{ key: 'b0c06f000000/platform', expiresAt: new Date(expiry).toISOString(), fetchedAt: new Date(pinned).toISOString() }]);
    clock.t = expiry - 3600_000; // inside the refresh-ahead window
    const r = await s.get(req(clock.t));
    expect(tcbHits() - before).toBe(2);
    expect(r.warnings).toEqual([]);
  });

  it('keeps serving verified unexpired collateral while the PCCS is down, and says so', async () => {
    mode = 'ok';
    const clock = { t: pinned };
    const s = source(clock);
    await s.get(req());
    mode = 'down';
    clock.t = expiry - 3600_000;
    const r = await s.get(req(clock.t));
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(new RegExp(`^collateral served from cache, PCCS unreachable since ${new Date(clock.t).toISOString()}`));
    expect(s.unreachableSince()?.getTime()).toBe(clock.t);
    // Past expiry nothing can be served.
    clock.t = expiry + 1000;
    await expect(s.get(req(clock.t))).rejects.toMatchObject({ code: 'CollateralUnavailable', message: expect.stringMatching(/cached collateral expired at 2025-07-19T10:00:35\.000Z/) });
    mode = 'ok';
  });

  it('rejects a tampered response and never caches it', async () => {
    const clock = { t: pinned };
    const s = source(clock);
    mode = 'tamper-tcb';
    await expect(s.get(req())).rejects.toMatchObject({ code: 'TcbInfoSignatureInvalid' });
    expect(s.snapshot()).toEqual([]);
    mode = 'ok';
    await s.get(req());
    mode = 'tamper-tcb';
    clock.t = expiry - 3600_000;
    const r = await s.get(req(clock.t));
    expect(r.warnings[0]).toMatch(/PCCS unreachable since .*failed verification: TCB Info signature does not verify/);
    mode = 'ok';
  });

  it('does not serve collateral fetched while expired', async () => {
    mode = 'ok';
    const clock = { t: expiry + 3600_000 };
    await expect(source(clock).get(req(clock.t))).rejects.toMatchObject({ message: expect.stringMatching(/not valid at/) });
  });
});

describe('TDX verifier fed by the PCCS source', () => {
  it('verifies a quote end to end, then keeps verifying from cache during an outage with a warning', async () => {
    // GCP COS 113 quote (FMSPC 00806F050000, REPORTDATA all zero) with its CCEL; June 2025 collateral.
    const quote = readFileSync(join(CCEL_FIXTURES, 'gcp-cos113-go-tdx-guest', 'quote.bin'));
    const ccel = readFileSync(join(CCEL_FIXTURES, 'gcp-cos113-go-tdx-guest', 'ccel_data.bin'));
    served = SPR;
    mode = 'ok';
    const clock = { t: Date.parse('2025-06-05T03:45:00Z') };
    const v = createTdxVerifier({ collateralFor: createPccsCollateralSources({ now: () => clock.t }) });
    const policy = AttestationPolicySpecSchema.parse({ tdx: { pccsUrl: `${base}/tdx/certification/v4` } });
    const input = { evidence: { cc_eventlog: ccel.toString('base64'), quote: quote.toString('base64') }, expectedReportData: new Uint8Array(48), policy };
    const first = await v.verify({ ...input, at: new Date(clock.t) });
    if (!first.ok) throw new Error(`${first.failure.code}: ${first.failure.message}`);
    expect(first.verified.warnings).toEqual(['quote has 3065 bytes after the signature data; they were ignored']);
    mode = 'down';
    clock.t = Date.parse('2025-07-04T00:00:00Z'); // less than a day before the PCK CRL's nextUpdate
    const second = await v.verify({ ...input, at: new Date(clock.t) });
    if (!second.ok) throw new Error(`${second.failure.code}: ${second.failure.message}`);
    expect(second.verified.warnings[0]).toMatch(/^collateral served from cache, PCCS unreachable since 2025-07-04T00:00:00.000Z/);
    clock.t = Date.parse('2025-07-05T00:00:00Z');
    const third = await v.verify({ ...input, at: new Date(clock.t) });
    expect(third.ok ? 'ok' : third.failure.code).toBe('CollateralUnavailable');
    mode = 'ok';
    served = B0C0;
  });
});
