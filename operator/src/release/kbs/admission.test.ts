// Session admission, single-use sessions and body limits against a live KBS (issue 10, items 5 and 8).
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleEvidence } from '../../attestation/sample/verifier.ts';
import { httpCall } from '../../sim/guest/http.ts';
import { KbsClient } from '../../sim/guest/kbs-client.ts';
import { decryptKbsJwe } from '../jwe.ts';
import { parseResourcePath } from './handlers.ts';
import { primaryReportData } from '../../protocol/runtime-data.ts';
import { generateTeeKeyPair, type TeeKeyPair } from '../../protocol/tee-key.ts';
import { startTestKbs, TEST_RESOURCE, TEST_SECRET, type TestKbs } from '../../../test/support/kbs-harness.ts';

let kbs: TestKbs | undefined;
afterEach(async () => {
  await kbs?.close();
  kbs = undefined;
});

const AUTH = { version: '0.4.0', tee: 'sample', 'extra-params': '' };
const detail = (body: Buffer) => (JSON.parse(body.toString()) as { detail: string }).detail;
const cookieOf = (r: { headers: Record<string, unknown> }) => String(r.headers['set-cookie']).split(';')[0]!;

async function auth(localAddress?: string) {
  const r = await httpCall('POST', `${kbs!.url}/kbs/v0/auth`, { body: AUTH, ...(localAddress ? { localAddress } : {}) });
  return { r, cookie: r.status === 200 ? cookieOf(r) : '', nonce: r.status === 200 ? (JSON.parse(r.body.toString()) as { nonce: string }).nonce : '' };
}

/** `initDataDigest`: what the sample "hardware" measured at launch (must match any init-data sent). */
function attestation(nonce: string, tee: TeeKeyPair, evidenceNonce = nonce, initDataDigest?: Buffer) {
  return { 'runtime-data': { nonce, 'tee-pubkey': tee.publicKey }, 'tee-evidence': { primary_evidence: sampleEvidence(primaryReportData(evidenceNonce, tee.publicKey, ''), '1', initDataDigest), additional_evidence: '' } };
}

/** POST a body with chunked transfer encoding (no content-length), so only the streaming cap can stop it. */
function postChunked(url: string, chunks: Buffer[]): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(got) }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('KBS session admission', () => {
  it('opens no session for an address where no agent runs', async () => {
    kbs = await startTestKbs();
    const stranger = await auth('127.0.0.2');
    expect([stranger.r.status, detail(stranger.r.body)]).toEqual([401, 'RCAR handshake Auth failed: UnknownRequester: the attestation was not accepted']);
    expect(stranger.r.headers['set-cookie']).toBeUndefined();
    expect(JSON.parse(stranger.r.body.toString())).toMatchObject({ type: 'https://github.com/confidential-containers/kbs/errors/AttestationError' });
    expect(kbs.kbs.sessions.size).toBe(0);
    expect(kbs.events.at(-1)).toMatchObject({ type: 'attestation-refused', code: 'UnknownRequester', peerAddress: '127.0.0.2' });
    expect((await auth('127.0.0.1')).r.status).toBe(200);
  });

  it('10,000 unauthenticated /auth (from the agent address and elsewhere) do not cost a genuine guest its handshake', async () => {
    const logged: string[] = [];
    kbs = await startTestKbs({ server: { logger: { info: () => undefined, warn: (_o, msg) => void logged.push(msg) } } });
    const tee = generateTeeKeyPair();
    const genuine = await auth();
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const statuses = new Map<string, number>();
    let next = 0;
    const flood = async () => {
      while (next < 10_000) {
        const i = next++;
        const r = await httpCall('POST', `${kbs!.url}/kbs/v0/auth`, { body: AUTH, agent, ...(i % 2 ? { localAddress: '127.0.0.3' } : {}) });
        const key = r.status === 200 ? 'session' : detail(r.body).split(':')[1]!.trim();
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, flood));
    agent.destroy();
    // 31 more sessions fit beside the genuine one at 127.0.0.1; the rest are refused, none evicts it
    expect(Object.fromEntries(statuses)).toEqual({ session: 31, TooManyPendingSessions: 4969, UnknownRequester: 5000 });
    expect(kbs.kbs.sessions.size).toBe(32);
    // 9,969 refusals, but the logs (written by the operator's main thread) get at most 20 per code per 10 s
    expect(logged.length).toBeLessThanOrEqual(80);
    expect(kbs.events.filter((e) => e.type === 'attestation-refused')).toHaveLength(9969);
    const att = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: attestation(genuine.nonce, tee), headers: { cookie: genuine.cookie } });
    expect(att.status).toBe(200);
    const res = await httpCall('GET', `${kbs.url}/kbs/v0/resource/${TEST_RESOURCE}`, { headers: { cookie: genuine.cookie } });
    expect(res.status).toBe(200);
    expect(decryptKbsJwe(JSON.parse(res.body.toString()), tee.privateKey).toString()).toBe(TEST_SECRET);
  });

  it('an address over its allowance of unauthenticated sessions is refused with its own code and event', async () => {
    kbs = await startTestKbs({ server: { maxPendingSessionsPerAddress: 1 } });
    expect((await auth()).r.status).toBe(200);
    const over = await auth();
    expect([over.r.status, JSON.parse(over.r.body.toString())]).toEqual([
      401,
      { type: 'https://github.com/confidential-containers/kbs/errors/AttestationError', detail: 'RCAR handshake Auth failed: TooManyPendingSessions: try again later' },
    ]);
    expect(kbs.events.at(-1)).toMatchObject({ type: 'attestation-refused', code: 'TooManyPendingSessions', message: 'too many unauthenticated sessions from this address', peerAddress: '127.0.0.1', tee: 'sample' });
  });

  it('an init-data that matches no agent is refused before any evidence is verified', async () => {
    kbs = await startTestKbs();
    const initData = 'algorithm = "sha384"\nversion = "0.1.0"\n';
    kbs.lists.agents[0]!.identity = { peerAddress: '127.0.0.1', initDataDigest: createHash('sha384').update(initData).digest('hex') };
    const tee = generateTeeKeyPair();
    const s = await auth();
    // the evidence is garbage: had verification run, the code would be MalformedEvidence
    const body = { 'init-data': { format: 'toml', body: initData + '# another launch\n' }, 'runtime-data': { nonce: s.nonce, 'tee-pubkey': tee.publicKey }, 'tee-evidence': { primary_evidence: { junk: true }, additional_evidence: '' } };
    const r = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body, headers: { cookie: s.cookie } });
    expect(detail(r.body)).toBe('RCAR handshake Attest failed: NoPolicy: the attestation was not accepted');
    // the agent's own init-data gets through to verification
    const s2 = await auth();
    const r2 = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: { ...body, 'init-data': { format: 'toml', body: initData }, 'runtime-data': { nonce: s2.nonce, 'tee-pubkey': tee.publicKey } }, headers: { cookie: s2.cookie } });
    expect(detail(r2.body)).toMatch(/^RCAR handshake Attest failed: MalformedEvidence/);
  });

  it('a full table of attested sessions refuses new ones instead of evicting them', async () => {
    kbs = await startTestKbs({ server: { maxSessions: 2 } });
    const clients = [new KbsClient({ baseUrl: kbs.url, handshakeAttempts: 1 }), new KbsClient({ baseUrl: kbs.url, handshakeAttempts: 1 })];
    for (const c of clients) await c.handshake();
    const third = await auth();
    expect(detail(third.r.body)).toBe('RCAR handshake Auth failed: SessionTableFull: try again later');
    expect(JSON.parse(third.r.body.toString())).toMatchObject({ type: 'https://github.com/confidential-containers/kbs/errors/AttestationError' });
    expect(kbs.events.at(-1)).toMatchObject({ type: 'attestation-refused', code: 'SessionTableFull', message: 'the session table is full of attested sessions' });
    for (const c of clients) expect((await c.getResource(TEST_RESOURCE)).toString()).toBe(TEST_SECRET);
  });

  it('a session is single use even when its attestation failed (the nonce is consumed on the first /attest)', async () => {
    kbs = await startTestKbs();
    const tee = generateTeeKeyPair();
    const s = await auth();
    const bad = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: attestation(s.nonce, tee, Buffer.alloc(32, 7).toString('base64')), headers: { cookie: s.cookie } });
    expect(detail(bad.body)).toMatch(/ReportDataMismatch/);
    const retry = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: attestation(s.nonce, tee), headers: { cookie: s.cookie } });
    expect([retry.status, detail(retry.body)]).toEqual([401, 'RCAR handshake Attest failed: NonceAlreadyUsed: the attestation was not accepted']);
    expect(kbs.events.filter((e) => e.type === 'attested')).toHaveLength(0);
  });
});

describe('KBS body limits', () => {
  const padded = (value: object, size: number) => {
    const text = JSON.stringify(value);
    return Buffer.from(text + ' '.repeat(size - text.length));
  };

  it('a valid /auth body is accepted at the limit and refused one byte over (declared or streamed)', async () => {
    kbs = await startTestKbs({ server: { maxAuthBodyBytes: 8192 } });
    const url = `${kbs.url}/kbs/v0/auth`;
    expect((await httpCall('POST', url, { rawBody: padded(AUTH, 8192) })).status).toBe(200);
    const declared = await httpCall('POST', url, { rawBody: padded(AUTH, 8193) });
    expect([declared.status, detail(declared.body)]).toEqual([401, 'request body exceeds 8192 bytes']);
    expect(JSON.parse(declared.body.toString())).toMatchObject({ type: 'https://github.com/confidential-containers/kbs/errors/SerdeError' });
    const body = padded(AUTH, 8193);
    const streamed = await postChunked(url, [body.subarray(0, 4000), body.subarray(4000)]);
    expect([streamed.status, detail(streamed.body)]).toEqual([401, 'request body exceeds 8192 bytes']);
    expect((await postChunked(url, [padded(AUTH, 8192)])).status).toBe(200);
  });

  it('an over-limit Content-Length is refused before any of the body is read', async () => {
    kbs = await startTestKbs({ server: { maxAuthBodyBytes: 8192 } });
    const { port } = new URL(kbs.url);
    // Declares 8193 bytes, sends 10 and keeps the connection open: only the declared-length check answers.
    const reply = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('POST /kbs/v0/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8193\r\n\r\n{"version"'));
      let got = '';
      socket.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.includes('}')) {
          socket.destroy();
          resolve(got);
        }
      });
      socket.on('close', () => resolve(got));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 401[\s\S]*"detail":"request body exceeds 8192 bytes"/);
  });

  it('/attest has its own (larger) limit', async () => {
    kbs = await startTestKbs({ server: { maxAuthBodyBytes: 1024, maxAttestBodyBytes: 16_384 } });
    const tee = generateTeeKeyPair();
    const s = await auth();
    const over = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { rawBody: padded(attestation(s.nonce, tee), 16_385), headers: { cookie: s.cookie } });
    expect(detail(over.body)).toBe('request body exceeds 16384 bytes');
    const at = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { rawBody: padded(attestation(s.nonce, tee), 16_384), headers: { cookie: s.cookie } });
    expect(at.status).toBe(200);
  });
});

describe('init-data denial of service (issue 10 item 1)', () => {
  const attestWithInitData = async (initData: string) => {
    const tee = generateTeeKeyPair();
    const s = await auth();
    const body = { 'init-data': { format: 'toml', body: initData }, ...attestation(s.nonce, tee, s.nonce, createHash('sha384').update(initData).digest()) };
    return httpCall('POST', `${kbs!.url}/kbs/v0/attest`, { body, headers: { cookie: s.cookie } });
  };

  it.each([
    ['120,000 newlines (240 KB of JSON)', 120_000],
    ['init-data at the 4 MiB production body limit', 4 * 1024 * 1024 - 1024],
  ])('%s is refused with a size error naming the field', async (_label, n) => {
    kbs = await startTestKbs();
    const r = await attestWithInitData(n > 1_000_000 ? 'a'.repeat(n) : '\n'.repeat(n));
    expect([r.status, detail(r.body)]).toEqual([401, `init-data.body is ${n} bytes; the limit is 65536`]);
  });

  it('60,000 newlines (the reported 120 KB of JSON; under the 64 KiB cap) are hashed (sha384 default) into the EAR', async () => {
    kbs = await startTestKbs();
    const r = await attestWithInitData('\n'.repeat(60_000));
    expect(r.status).toBe(200);
    const { token } = JSON.parse(r.body.toString()) as { token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { submods: { cpu0: { 'ear.veraison.annotated-evidence': { init_data: string; init_data_claims: unknown } } } };
    // Trustee's encoding: init_data is the standard base64 of the digest (it was hex here before issue 13).
    expect(claims.submods.cpu0['ear.veraison.annotated-evidence'].init_data).toBe(createHash('sha384').update('\n'.repeat(60_000)).digest('base64'));
    expect(claims.submods.cpu0['ear.veraison.annotated-evidence'].init_data_claims).toEqual({});
  });
});

describe('KBS handler checks (mutation survivors)', () => {
  const errorOf = (r: { status: number; body: Buffer }) => [r.status, (JSON.parse(r.body.toString()) as { type: string }).type.split('/').pop(), detail(r.body)];

  it('a refused /attest frees its address allowance; /attest needs a cookie and a JSON body', async () => {
    kbs = await startTestKbs({ server: { maxPendingSessionsPerAddress: 1 } });
    const tee = generateTeeKeyPair();
    const s = await auth();
    const noCookie = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: attestation(s.nonce, tee) });
    expect(errorOf(noCookie)).toEqual([401, 'AttestationError', 'RCAR handshake Attest failed: NoCookie: the attestation was not accepted']);
    const garbage = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { rawBody: '{"runtime-data":', headers: { cookie: s.cookie } });
    expect(errorOf(garbage)).toEqual([401, 'SerdeError', 'request body is not valid JSON']);
    // that session is used up and failed: the address may open another one
    const again = await auth();
    expect(again.r.status).toBe(200);
    const ok = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: attestation(again.nonce, tee), headers: { cookie: again.cookie } });
    expect(ok.status).toBe(200);
    const attested = kbs.events.find((e) => e.type === 'attested');
    expect(attested && 'tokenDigest' in attested && attested.tokenDigest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('init-data is checked against the evidence, and an agent identified by it gets its resource through the session cookie', async () => {
    kbs = await startTestKbs();
    const tee = generateTeeKeyPair();
    const initData = 'algorithm = "sha384"\nversion = "0.1.0"\n';
    const digest = createHash('sha384').update(initData).digest();
    const other = createHash('sha384').update('launched with something else').digest();
    const withInit = (nonce: string, measured: Buffer) => ({ ...attestation(nonce, tee, nonce, measured), 'init-data': { format: 'toml', body: initData } });
    const s1 = await auth();
    const lie = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: withInit(s1.nonce, other), headers: { cookie: s1.cookie } });
    expect(detail(lie.body)).toBe('RCAR handshake Attest failed: InitDataMismatch: the attestation was not accepted');
    kbs.lists.agents[0]!.identity = { peerAddress: '127.0.0.1', initDataDigest: digest.toString('hex') };
    const s2 = await auth();
    const att = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: withInit(s2.nonce, digest), headers: { cookie: s2.cookie } });
    expect(att.status).toBe(200);
    const res = await httpCall('GET', `${kbs.url}/kbs/v0/resource/${TEST_RESOURCE}`, { headers: { cookie: cookieOf(att) } });
    expect(res.status).toBe(200);
    expect(decryptKbsJwe(JSON.parse(res.body.toString()), tee.privateKey).toString()).toBe(TEST_SECRET);
  });

  it('Authorization must be exactly "Bearer <token>"', async () => {
    kbs = await startTestKbs();
    const client = new KbsClient({ baseUrl: kbs.url, handshakeAttempts: 1 });
    const token = await client.handshake();
    const get = (authorization: string) => httpCall('GET', `${kbs!.url}/kbs/v0/resource/${TEST_RESOURCE}`, { headers: { authorization } });
    expect((await get(`Bearer ${token}`)).status).toBe(200);
    for (const bad of [`xBearer ${token}`, `Bearer ${token} trailing`, `Basic ${token}`]) {
      expect(errorOf(await get(bad)), bad.slice(0, 20)).toEqual([401, 'TokenVerifierError', 'TokenVerifierError: the token was not accepted']);
    }
    expect(kbs.events.at(-1)).toMatchObject({ type: 'release-refused', code: 'TokenVerifierError', reason: 'Authorization header must be "Bearer <EAR token>"' });
  });

  it('a session cookie is refused from its expiry instant on', async () => {
    const t0 = Date.now();
    let t = t0;
    kbs = await startTestKbs({ now: () => t });
    const tee = generateTeeKeyPair();
    const s = await auth();
    const att = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: attestation(s.nonce, tee), headers: { cookie: s.cookie } });
    const get = () => httpCall('GET', `${kbs!.url}/kbs/v0/resource/${TEST_RESOURCE}`, { headers: { cookie: cookieOf(att) } });
    t = t0 + 300_000 - 1; // sessions live 300 s from /auth
    expect((await get()).status).toBe(200);
    t = t0 + 300_000;
    expect(errorOf(await get())).toEqual([401, 'TokenNotFound', 'Attestation Token not found']);
  });

  it('parseResourcePath: three segments of 1..128 allowed characters, none starting with a dot', () => {
    const seg = 'a'.repeat(128);
    expect(parseResourcePath(`r/${seg}/t`)).toBe(`r/${seg}/t`);
    for (const bad of [`r/${seg}a/t`, 'r/t/.hidden', 'r/.x/t', '.x/t/t', 'r/t', 'r/t/x/y', 'r//t', 'r/t/a b']) expect(parseResourcePath(bad), bad).toBeUndefined();
  });
});
