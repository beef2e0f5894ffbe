import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as pkijs from 'pkijs';
import { afterEach, describe, expect, it } from 'vitest';
import { startOcspResponder, type LocalServer } from '../../../test/fixtures/nvidia/support/servers.ts';
import { makeCert, makeDeviceLeaf, makeOcspResponse, makeTestPki, type OcspAnswer, type TestCert } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { HttpOcspClient, OCSP_RESPONSE_CAP, type OcspQuery } from './ocsp-client.ts';
import { checkOcsp } from './ocsp-policy.ts';
import { NvidiaError } from './errors.ts';
import { parsePemChain, type ParsedCert } from './x509-chain.ts';

const at = new Date('2024-06-01T00:00:00Z');
const pki = makeTestPki();
const parsed = (c: TestCert): ParsedCert => parsePemChain(c.pem, c.name)[0] as ParsedCert;
const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface ResponderOptions {
  status?: (serial: string) => OcspAnswer;
  revocationReason?: number | null;
  responder?: TestCert;
  http?: number;
  garbage?: boolean;
  nonceOverride?: Uint8Array;
  signingKey?: TestCert;
  thisUpdate?: Date;
  nextUpdate?: Date;
}

async function responder(o: ResponderOptions = {}): Promise<LocalServer> {
  const server = await startOcspResponder((req) => {
    if (o.http) return o.http;
    if (o.garbage) return new Uint8Array([1, 2, 3]);
    return makeOcspResponse({
      requestDer: req,
      responder: o.responder ?? pki.deviceResponder,
      statusOf: o.status ?? (() => 'good'),
      thisUpdate: o.thisUpdate ?? new Date('2024-05-31T23:00:00Z'),
      nextUpdate: o.nextUpdate ?? new Date('2024-06-02T00:00:00Z'),
      ...(o.nonceOverride ? { nonceOverride: o.nonceOverride } : {}),
      ...(o.signingKey ? { signingKey: o.signingKey.key } : {}),
      ...(o.revocationReason !== undefined ? { revocationReason: o.revocationReason } : {}),
    });
  });
  servers.push(server);
  return server;
}

const query = (cert = pki.deviceProvisioner, issuer = pki.deviceIdentity): OcspQuery => ({
  cert: parsed(cert),
  issuer: parsed(issuer),
  root: parsed(pki.deviceRoot),
  kind: 'device',
  at,
});

describe('HttpOcspClient against a local responder with a test CA', () => {
  it('reports good, with a SHA-384 CertID and the nonce echoed, and caches until nextUpdate', async () => {
    const s = await responder();
    const client = new HttpOcspClient({ url: s.url });
    const first = await client.check(query());
    expect(first).toMatchObject({ status: 'good', cached: false });
    const second = await client.check(query());
    expect(second).toMatchObject({ status: 'good', cached: true });
    expect(s.requests).toBe(1);
    const later = await client.check({ ...query(), at: new Date('2024-06-03T00:00:00Z') });
    expect(later.status).toBe('invalid'); // fresh fetch; the test responder's answer is stale for that time
    expect(s.requests).toBe(2);
  });

  it('reports revoked with reason and time, and unknown', async () => {
    const revokedSerial = Buffer.from(pki.deviceProvisioner.serial).toString('hex');
    const s = await responder({ status: (serial) => (serial === revokedSerial ? 'revoked' : 'unknown') });
    const client = new HttpOcspClient({ url: s.url });
    const revoked = await client.check(query());
    expect(revoked.status).toBe('revoked');
    if (revoked.status === 'revoked') expect(revoked.verdict).toMatchObject({ reason: 1, revokedAt: new Date('2024-01-01T00:00:00Z') });
    expect((await client.check(query(pki.deviceIdentity, pki.deviceRoot))).status).toBe('unknown');
  });

  it('treats outages as unavailable: HTTP 500, connection refused', async () => {
    const s = await responder({ http: 500 });
    expect(await new HttpOcspClient({ url: s.url }).check(query())).toMatchObject({ status: 'unavailable', reason: expect.stringMatching(/HTTP 500/) });
    const closed = await responder();
    const url = closed.url;
    await closed.close();
    servers.splice(servers.indexOf(closed), 1);
    expect(await new HttpOcspClient({ url }).check(query())).toMatchObject({ status: 'unavailable', reason: expect.stringMatching(/unreachable/) });
  });

  it('rejects forged, replayed, stale, unauthorized and garbage responses as invalid', async () => {
    const cases: [ResponderOptions, RegExp][] = [
      [{ garbage: true }, /not a DER OCSPResponse/],
      [{ nonceOverride: new Uint8Array(32) }, /nonce does not match/],
      [{ signingKey: makeCert({ cn: 'Evil' }) }, /signature does not verify/],
      [{ nextUpdate: new Date('2024-05-01T00:00:00Z'), thisUpdate: new Date('2024-04-30T00:00:00Z') }, /expired/],
      [{ responder: makeCert({ cn: 'No EKU', issuer: pki.deviceRoot, ca: false }) }, /OCSPSigning/],
      [{ responder: makeCert({ cn: 'Foreign responder', ca: false, eku: ['1.3.6.1.5.5.7.3.9'] }) }, /not trusted/],
    ];
    for (const [opts, why] of cases) {
      const s = await responder(opts);
      const r = await new HttpOcspClient({ url: s.url }).check(query());
      expect(r.status, String(why)).toBe('invalid');
      if (r.status === 'invalid') expect(r.reason).toMatch(why);
    }
  });

  it('accepts a response signed by the issuing CA itself', async () => {
    const s = await responder({ responder: pki.deviceIdentity });
    expect((await new HttpOcspClient({ url: s.url }).check(query())).status).toBe('good');
  });
});

describe('OCSP policy', () => {
  const leaf = makeDeviceLeaf(pki);
  const queries = [{ cert: parsed(pki.deviceProvisioner), issuer: parsed(pki.deviceIdentity), root: parsed(pki.deviceRoot), kind: 'device' as const }];
  void leaf;

  it('Skip sends nothing; Prefer warns on outage; Require fails on outage', async () => {
    const s = await responder({ http: 503 });
    const client = new HttpOcspClient({ url: s.url });
    expect(await checkOcsp(queries, { client, policy: 'Skip', at })).toEqual({ outcome: 'skipped', warnings: [] });
    expect(s.requests).toBe(0);
    const prefer = await checkOcsp(queries, { client, policy: 'Prefer', at });
    expect(prefer.outcome).toBe('unavailable');
    expect(prefer.warnings[0]).toMatch(/HTTP 503/);
    await expect(checkOcsp(queries, { client, policy: 'Require', at })).rejects.toMatchObject({ code: 'OcspUnavailable' });
    await expect(checkOcsp(queries, { client: undefined, policy: 'Require', at })).rejects.toBeInstanceOf(NvidiaError);
  });

  it('fails revoked and unknown under every checking policy', async () => {
    const s = await responder({ status: () => 'revoked' });
    const client = new HttpOcspClient({ url: s.url });
    await expect(checkOcsp(queries, { client, policy: 'Prefer', at })).rejects.toMatchObject({
      code: 'OcspRevoked',
      message: expect.stringMatching(/'Test GH100 Provisioner ICA' is revoked \(keyCompromise\)/),
    });
    const u = await responder({ status: () => 'unknown' });
    await expect(checkOcsp(queries, { client: new HttpOcspClient({ url: u.url }), policy: 'Require', at })).rejects.toMatchObject({ code: 'OcspUnknown' });
  });
});

describe('HttpOcspClient: requests, outages, cache and sharing', () => {
  /** A local HTTP peer for outage shapes the OCSP responder helper cannot produce. */
  async function rawServer(handle: (res: ServerResponse) => void): Promise<string> {
    const server = createServer((_req, res) => handle(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({ url: '', requests: 0, close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    server.on('connection', (socket) => socket.unref());
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/ocsp`;
  }

  it('POSTs a DER OCSP request with the pinned nonce and the OCSP media types', async () => {
    let seen: { method?: string; type?: string; accept?: string; body?: Uint8Array } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen = { method: req.method, type: req.headers['content-type'], accept: req.headers.accept, body: new Uint8Array(Buffer.concat(chunks)) };
        res.writeHead(503).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({ url: '', requests: 0, close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const nonce = new Uint8Array(32).fill(9);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    expect(await new HttpOcspClient({ url, nonce: () => nonce }).check(query())).toEqual({ status: 'unavailable', reason: 'OCSP responder answered HTTP 503' });
    expect(seen).toMatchObject({ method: 'POST', type: 'application/ocsp-request', accept: 'application/ocsp-response' });
    const req = pkijs.OCSPRequest.fromBER(seen.body ?? new Uint8Array());
    const ext = req.tbsRequest.requestExtensions?.[0];
    expect(Buffer.from(ext?.extnValue.valueBlock.valueHexView ?? []).subarray(2)).toEqual(Buffer.from(nonce));
    expect(Buffer.from(req.tbsRequest.requestList[0]?.reqCert.serialNumber.valueBlock.valueHexView ?? [])).toEqual(Buffer.from(pki.deviceProvisioner.serial));
  });

  it('names the outage: timeout, oversized answer, redirect, refused connection (with the responder origin)', async () => {
    const hang = await rawServer(() => undefined);
    expect(await new HttpOcspClient({ url: hang, timeoutMs: 200 }).check(query())).toEqual({
      status: 'unavailable',
      reason: `OCSP responder ${new URL(hang).origin} unreachable: timed out after 200 ms`,
    });
    const bigUrl = await rawServer((res) => res.writeHead(200).end(Buffer.alloc(OCSP_RESPONSE_CAP + 1)));
    expect(await new HttpOcspClient({ url: bigUrl }).check(query())).toEqual({
      status: 'unavailable',
      reason: `OCSP responder ${new URL(bigUrl).origin} unreachable: response exceeds 65536 bytes`,
    });
    const redirect = await rawServer((res) => res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end());
    expect(await new HttpOcspClient({ url: redirect }).check(query())).toEqual({
      status: 'unavailable',
      reason: `OCSP responder ${new URL(redirect).origin} unreachable: answered with a redirect (not followed)`,
    });
    const closed = await responder();
    const url = closed.url;
    await closed.close();
    servers.splice(servers.indexOf(closed), 1);
    expect(await new HttpOcspClient({ url }).check(query())).toEqual({ status: 'unavailable', reason: `OCSP responder ${new URL(url).origin} unreachable: connection failed` });
    // A body of exactly the cap is read (and then fails verification, not the size check).
    const atCap = await rawServer((res) => res.writeHead(200).end(Buffer.alloc(OCSP_RESPONSE_CAP)));
    expect(await new HttpOcspClient({ url: atCap }).check(query())).toEqual({ status: 'invalid', reason: 'OCSP response: not a DER OCSPResponse' });
  });

  it('uses the per-query URL over the client default', async () => {
    const s = await responder();
    const client = new HttpOcspClient({ url: 'http://127.0.0.1:1/' });
    expect((await client.check({ ...query(), url: s.url })).status).toBe('good');
    expect(s.requests).toBe(1);
  });

  it('serves a cached answer only inside [thisUpdate − 5 min, validUntil], per URL, and tells the observer the earliest expiry', async () => {
    const s = await responder({ thisUpdate: new Date('2024-06-01T00:04:00Z'), nextUpdate: new Date('2024-06-01T12:00:00Z') });
    const earliest: Date[] = [];
    const client = new HttpOcspClient({ url: s.url, observer: { ocspCacheValidUntil: (d) => earliest.push(d) } });
    const first = await client.check({ ...query(), at: new Date('2024-06-01T00:00:00Z') });
    expect(first).toMatchObject({ status: 'good', cached: false });
    expect(earliest).toEqual([new Date('2024-06-01T12:00:00Z')]);
    expect(await client.check({ ...query(), at: new Date('2024-06-01T12:00:00Z') })).toMatchObject({ cached: true });
    // Five minutes before thisUpdate: still served from the cache; one second more: fetched again.
    expect(await client.check({ ...query(), at: new Date('2024-05-31T23:59:00Z') })).toMatchObject({ cached: true });
    expect(s.requests).toBe(1);
    // (and the fresh answer is then refused for the same reason: thisUpdate is too far ahead of `at`).
    expect(await client.check({ ...query(), at: new Date('2024-05-31T23:58:59Z') })).toEqual({
      status: 'invalid',
      reason: 'OCSP response: thisUpdate 2024-06-01T00:04:00.000Z is in the future',
    });
    expect(s.requests).toBe(2);
    // Another URL is another cache entry.
    const other = await responder({ nextUpdate: new Date('2024-06-01T06:00:00Z') });
    expect(await client.check({ ...query(), url: other.url })).toMatchObject({ cached: false });
    expect(earliest.at(-1)).toEqual(new Date('2024-06-01T06:00:00Z'));
    // A later-expiring answer leaves the earliest expiry where it was.
    const later = await responder({ nextUpdate: new Date('2024-06-03T00:00:00Z') });
    expect(await client.check({ ...query(), url: later.url })).toMatchObject({ cached: false });
    expect(earliest.at(-1)).toEqual(new Date('2024-06-01T06:00:00Z'));
    // Another certificate under the same issuer is another cache entry too.
    expect(await client.check(query(pki.deviceResponder, pki.deviceRoot))).toMatchObject({ cached: false });
    expect(await client.check(query(pki.deviceResponder, pki.deviceRoot))).toMatchObject({ cached: true });
  });

  it('uses the injected fetch and honours the cache size', async () => {
    const s = await responder();
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const client = new HttpOcspClient({ url: s.url, fetch: counting, cacheSize: 1 });
    await client.check(query());
    await client.check(query(pki.deviceIdentity, pki.deviceRoot));
    // The second answer pushed the first out of a one-entry cache.
    expect(await client.check(query())).toMatchObject({ status: 'good', cached: false });
    expect(calls).toBe(3);
    expect(s.requests).toBe(3);
  });

  it('shares one request between concurrent checks of the same certificate, and not after it finished', async () => {
    const s = await responder();
    const client = new HttpOcspClient({ url: s.url });
    const [a, b] = await Promise.all([client.check(query()), client.check(query())]);
    expect(a).toEqual(b);
    expect(s.requests).toBe(1);
    const fail = await responder({ http: 500 });
    const c2 = new HttpOcspClient({ url: fail.url });
    await c2.check(query());
    await c2.check(query());
    expect(fail.requests).toBe(2);
  });
});

describe('OCSP policy: each answer under each mode, by name', () => {
  const q = (cert = pki.deviceProvisioner, issuer = pki.deviceIdentity) => ({ cert: parsed(cert), issuer: parsed(issuer), root: parsed(pki.deviceRoot), kind: 'device' as const });

  it('skips with no queries even when required, and without a client warns or fails', async () => {
    expect(await checkOcsp([], { client: undefined, policy: 'Require', at })).toEqual({ outcome: 'skipped', warnings: [] });
    expect(await checkOcsp([q()], { client: undefined, policy: 'Prefer', at })).toEqual({
      outcome: 'unavailable',
      warnings: ['OCSP not checked: no OCSP client is configured'],
    });
    await expect(checkOcsp([q()], { client: undefined, policy: 'Require', at })).rejects.toMatchObject({
      code: 'OcspUnavailable',
      message: 'OCSP is required by policy but no OCSP client is configured',
    });
  });

  it('passes when every answer is good, using the policy URL', async () => {
    const s = await responder();
    const client = new HttpOcspClient({ url: 'http://127.0.0.1:1/' });
    expect(await checkOcsp([q(), q(pki.deviceIdentity, pki.deviceRoot)], { client, policy: 'Require', at, url: s.url })).toEqual({ outcome: 'good', warnings: [] });
    expect(s.requests).toBe(2);
  });

  it('names the revoked certificate, the CRL reason and the time', async () => {
    const cases: [number | null, string][] = [
      [0, ' (unspecified)'],
      [1, ' (keyCompromise)'],
      [2, ' (cACompromise)'],
      [3, ' (affiliationChanged)'],
      [4, ' (superseded)'],
      [5, ' (cessationOfOperation)'],
      [6, ' (certificateHold)'],
      [9, ' (privilegeWithdrawn)'],
      [10, ' (aACompromise)'],
      [8, ' (reason 8)'],
      [null, ''],
    ];
    for (const [reason, text] of cases) {
      const s = await responder({ status: () => 'revoked', revocationReason: reason });
      await expect(checkOcsp([q()], { client: new HttpOcspClient({ url: s.url }), policy: 'Prefer', at })).rejects.toMatchObject({
        code: 'OcspRevoked',
        message: `device certificate 'Test GH100 Provisioner ICA' is revoked${text} at 2024-01-01T00:00:00.000Z according to OCSP`,
      });
    }
  });

  it('names the certificate for unknown, invalid and unavailable answers', async () => {
    const u = await responder({ status: () => 'unknown' });
    await expect(checkOcsp([q()], { client: new HttpOcspClient({ url: u.url }), policy: 'Prefer', at })).rejects.toMatchObject({
      code: 'OcspUnknown',
      message: "OCSP responder does not know device certificate 'Test GH100 Provisioner ICA'",
    });
    const g = await responder({ garbage: true });
    await expect(checkOcsp([q()], { client: new HttpOcspClient({ url: g.url }), policy: 'Prefer', at })).rejects.toMatchObject({
      code: 'OcspResponseInvalid',
      message: "device certificate 'Test GH100 Provisioner ICA': OCSP response: not a DER OCSPResponse",
    });
    const down = await responder({ http: 503 });
    const client = new HttpOcspClient({ url: down.url });
    await expect(checkOcsp([q()], { client, policy: 'Require', at })).rejects.toMatchObject({
      code: 'OcspUnavailable',
      message: "device certificate 'Test GH100 Provisioner ICA': OCSP responder answered HTTP 503 (policy requires OCSP)",
    });
    // Under Prefer, the same warning twice is reported once; different certificates each get one.
    expect(await checkOcsp([q(), q()], { client, policy: 'Prefer', at })).toEqual({
      outcome: 'unavailable',
      warnings: ["device certificate 'Test GH100 Provisioner ICA': OCSP responder answered HTTP 503"],
    });
    const two = await checkOcsp([q(), q(pki.deviceIdentity, pki.deviceRoot)], { client, policy: 'Prefer', at });
    expect(two.warnings).toHaveLength(2);
  });
});
