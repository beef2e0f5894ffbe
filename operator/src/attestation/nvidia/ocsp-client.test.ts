import { afterEach, describe, expect, it } from 'vitest';
import { startOcspResponder, type LocalServer } from '../../../test/fixtures/nvidia/support/servers.ts';
import { makeCert, makeDeviceLeaf, makeOcspResponse, makeTestPki, type OcspAnswer, type TestCert } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { HttpOcspClient, type OcspQuery } from './ocsp-client.ts';
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
