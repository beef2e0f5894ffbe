// Every trust-material client (PCCS, Rekor, RIM, OCSP) against a hostile peer on loopback: an oversized
// body, an endless body and a huge Content-Length end in the client's coded size error after reading at
// most its cap; a dripping body ends in a timeout; redirects are not followed; an error body is never echoed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostileServer, SECRET_BODY, type HostileMode } from '../../test/support/hostile-server.ts';
import { makeTestPki, type TestCert } from '../../test/fixtures/nvidia/support/test-pki.ts';
import { RekorClient, REKOR_RESPONSE_CAPS } from './refvalues/client.ts';
import { RefValuesError } from './refvalues/errors.ts';
import { fetchTdxCollateral, PCCS_RESPONSE_CAPS } from './tdx/pccs-client.ts';
import { TdxError } from './tdx/errors.ts';
import { HttpRimSource, RIM_RESPONSE_CAP } from './nvidia/rim-source.ts';
import { NvidiaError } from './nvidia/errors.ts';
import { HttpOcspClient, OCSP_RESPONSE_CAP } from './nvidia/ocsp-client.ts';
import { parsePemChain, type ParsedCert } from './nvidia/x509-chain.ts';

const hostile = new HostileServer();
const landing = new HostileServer(); // where redirects point: must never be asked anything
const TIMEOUT = 400;
beforeAll(async () => {
  await hostile.start();
  await landing.start();
  landing.mode = 'secret-403';
  hostile.redirectTo = `${landing.url}/internal`;
});
afterAll(async () => {
  await hostile.stop();
  await landing.stop();
});

interface Outcome {
  code: string;
  message: string;
}
interface Case {
  name: string;
  cap: number;
  sizeCode: string;
  run(): Promise<Outcome>;
}

const pki = makeTestPki();
const parsed = (c: TestCert): ParsedCert => parsePemChain(c.pem, c.name)[0] as ParsedCert;

const caught = async (p: Promise<unknown>): Promise<Outcome> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof RefValuesError) return { code: e.reason, message: e.message };
    if (e instanceof TdxError || e instanceof NvidiaError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a failure');
};

const cases: Case[] = [
  {
    name: 'Rekor (GET /api/v1/log)',
    cap: REKOR_RESPONSE_CAPS.logInfo,
    sizeCode: 'ResponseTooLarge',
    run: () => caught(new RekorClient({ url: hostile.url, retries: 0, timeoutMs: TIMEOUT }).getLogInfo()),
  },
  {
    name: 'Rekor (POST /api/v1/log/entries/retrieve)',
    cap: REKOR_RESPONSE_CAPS.entries,
    sizeCode: 'ResponseTooLarge',
    run: () => caught(new RekorClient({ url: hostile.url, retries: 0, timeoutMs: TIMEOUT }).retrieveEntries(['ab'.repeat(32)])),
  },
  {
    name: 'PCCS (TDX collateral)',
    cap: PCCS_RESPONSE_CAPS.pckCrl,
    sizeCode: 'CollateralUnavailable',
    run: () => caught(fetchTdxCollateral({ baseUrl: hostile.url, timeoutMs: TIMEOUT }, 'B0C06F000000', 'platform')),
  },
  {
    name: 'NVIDIA RIM service',
    cap: RIM_RESPONSE_CAP,
    sizeCode: 'RimUnavailable',
    run: () => caught(new HttpRimSource({ baseUrl: `${hostile.url}/v1/rim/`, timeoutMs: TIMEOUT }).getRim('NV_GPU_DRIVER_GH100_535.86.10')),
  },
  {
    name: 'NVIDIA OCSP responder',
    cap: OCSP_RESPONSE_CAP,
    sizeCode: 'unavailable',
    run: async () => {
      const r = await new HttpOcspClient({ url: hostile.url, timeoutMs: TIMEOUT }).check({
        cert: parsed(pki.deviceProvisioner),
        issuer: parsed(pki.deviceIdentity),
        root: parsed(pki.deviceRoot),
        kind: 'device',
        at: new Date('2024-06-01T00:00:00Z'),
      });
      if (r.status !== 'unavailable') throw new Error(`expected unavailable, got ${r.status}`);
      return { code: r.status, message: r.reason };
    },
  },
];

const SIZE_WORDS = /exceeds \d+ bytes/;

describe.each(cases)('$name against a hostile peer', (c) => {
  const inMode = async (mode: HostileMode, size = 0) => {
    hostile.mode = mode;
    hostile.size = size;
    return c.run();
  };

  it('refuses a body one byte over its cap (true Content-Length) with the size error', async () => {
    const out = await inMode('oversized', c.cap + 1);
    expect(out.code).toBe(c.sizeCode);
    expect(out.message).toMatch(SIZE_WORDS);
  });

  it('stops reading an endless body at its cap', async () => {
    const out = await inMode('endless');
    expect(out.code).toBe(c.sizeCode);
    expect(out.message).toMatch(SIZE_WORDS);
    // The client hung up: what the server pushed is bounded by the cap plus socket buffers, not endless.
    await new Promise((r) => setTimeout(r, 50));
    expect(hostile.bytesSent).toBeLessThan(c.cap + 8 * 1024 * 1024);
  });

  it('refuses a huge Content-Length before reading', async () => {
    const out = await inMode('huge-content-length');
    expect(out.code).toBe(c.sizeCode);
    expect(out.message).toMatch(SIZE_WORDS);
  });

  it('times out a body that never ends slowly (the timeout covers the body)', async () => {
    const started = Date.now();
    const out = await inMode('drip');
    expect(out.message).toMatch(/within 400 ms|timed out after 400 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('does not follow a redirect', async () => {
    const before = landing.requests.length;
    const out = await inMode('redirect');
    expect(out.message).toMatch(/redirect/);
    expect(landing.requests.length).toBe(before);
  });

  it('reports an error status without the body', async () => {
    const out = await inMode('secret-403');
    expect(out.message).toContain('403');
    expect(out.message).not.toContain('db-password');
    expect(out.message).not.toContain(SECRET_BODY.slice(0, 13));
  });
});
