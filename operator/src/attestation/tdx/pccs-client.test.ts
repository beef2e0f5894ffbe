// The PCCS client's URL handling and its answers to a local PCCS serving real collateral: the request it sends,
// the custom fetch it is given, and each way an answer can be unusable, named in the error.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { startLocalPccs } from '../../../test/support/local-pccs.ts';
import type { LocalPccs } from '../../../test/support/local-pccs.ts';
import { fetchTdxCollateral, pccsEndpoints } from './pccs-client.ts';
import { tdxFailure } from '../../../test/support/tdx-failure.ts';

let pccs: LocalPccs;
beforeAll(async () => {
  pccs = await startLocalPccs(join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06'), 'B0C06F000000');
});
afterAll(() => pccs.close());
beforeEach(() => pccs.reset());

const failure = tdxFailure;
const unavailable = (message: string) => ({ code: 'CollateralUnavailable', message });
const fetchB0C0 = (opts: Partial<Parameters<typeof fetchTdxCollateral>[0]> = {}) => fetchTdxCollateral({ baseUrl: pccs.base, ...opts }, 'b0c06f000000', 'platform');

describe('pccsEndpoints', () => {
  it('names a base URL that is not a URL or not http(s)', () => {
    expect(failure(() => pccsEndpoints({ baseUrl: 'pccs.example' }))).toEqual(unavailable('PCCS base URL "pccs.example" is not a URL'));
    expect(failure(() => pccsEndpoints({ baseUrl: 'file:///etc/pccs' }))).toEqual(unavailable('PCCS base URL must be http(s), got file:'));
  });

  it('strips every trailing slash, and the v4 API path only at the end', () => {
    expect(pccsEndpoints({ baseUrl: 'https://pccs.example//' }).tdx).toBe('https://pccs.example/tdx/certification/v4');
    expect(pccsEndpoints({ baseUrl: 'https://gw.example/tdx/certification/v4/mirror' }).tdx).toBe('https://gw.example/tdx/certification/v4/mirror/tdx/certification/v4');
  });
});

describe('fetchTdxCollateral against a local PCCS', () => {
  it('checks the FMSPC before any request', async () => {
    for (const fmspc of ['xb0c06f000000', 'b0c06f000000x', 'b0c06f00000g']) {
      await expect(fetchTdxCollateral({ baseUrl: pccs.base }, fmspc, 'platform')).rejects.toMatchObject(unavailable(`FMSPC "${fmspc}" is not 6 bytes of hex`));
    }
    expect(pccs.requests).toEqual([]);
  });

  it('asks for anything (Accept: */*) and uses the fetch it is given', async () => {
    const seen: string[] = [];
    const counting: typeof fetch = (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    await fetchB0C0({ fetch: counting });
    expect(seen.map((u) => new URL(u).pathname).sort()).toEqual(['/sgx/certification/v4/pckcrl', '/sgx/certification/v4/rootcacrl', '/tdx/certification/v4/qe/identity', '/tdx/certification/v4/tcb']);
    expect(pccs.requests.map((r) => r.headers.accept)).toEqual(['*/*', '*/*', '*/*', '*/*']);
  });

  it('names an HTTP error status, and a request that could not be made', async () => {
    pccs.behavior.status = 503;
    await expect(fetchB0C0()).rejects.toMatchObject(unavailable(`PCCS request ${pccs.base}/tdx/certification/v4/tcb returned HTTP 503`));
    // A negative timeout makes the request itself throw (not an EgressError): reported without details.
    await expect(fetchB0C0({ timeoutMs: -1 })).rejects.toMatchObject(unavailable(`PCCS request failed: ${pccs.base}/tdx/certification/v4/tcb: request failed`));
  });

  it('names a missing or undecodable issuer-chain header', async () => {
    pccs.behavior.tcbChainHeader = null;
    await expect(fetchB0C0()).rejects.toMatchObject(unavailable(`PCCS response ${pccs.base}/tdx/certification/v4/tcb has no TCB-Info-Issuer-Chain / SGX-TCB-Info-Issuer-Chain header`));
    pccs.behavior.tcbChainHeader = '%E0%A4%A';
    await expect(fetchB0C0()).rejects.toMatchObject(unavailable(`PCCS response ${pccs.base}/tdx/certification/v4/tcb header TCB-Info-Issuer-Chain is not URL-encoded PEM`));
  });

  it('names the CRL that is neither DER, PEM nor hex', async () => {
    pccs.behavior.pckCrlBody = Buffer.from('not a CRL');
    await expect(fetchB0C0()).rejects.toMatchObject({ code: 'CrlMalformed', message: 'PCK CRL is neither DER, PEM nor hex' });
    delete pccs.behavior.pckCrlBody;
    pccs.behavior.rootCaCrlBody = Buffer.from('not a CRL');
    await expect(fetchB0C0()).rejects.toMatchObject({ code: 'CrlMalformed', message: 'Root CA CRL is neither DER, PEM nor hex' });
  });
});
