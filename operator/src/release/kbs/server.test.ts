import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestationPolicySpecSchema } from '../../api/attestation-policy.ts';
import { EarSigner, verifyEar } from '../../attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../../attestation/registry.ts';
import { sampleEvidence } from '../../attestation/sample/verifier.ts';
import { KbsClient, KbsClientError, sampleCompositeEvidence } from '../../sim/guest/kbs-client.ts';
import { httpCall } from '../../sim/guest/http.ts';
import { deviceReportData, primaryReportData } from '../../protocol/runtime-data.ts';
import { generateTeeKeyPair } from '../../protocol/tee-key.ts';
import { GENERIC_RELEASE_REFUSAL, MAX_INLINE_EAR } from './handlers.ts';
import { startTestKbs, TEST_RESOURCE, TEST_SECRET, type TestKbs } from '../../../test/support/kbs-harness.ts';
import { createKbsServer, endpointOf, LogLimiter, type KbsEndpoint } from './server.ts';
import { generateKbsTls } from './tls.ts';
import { generateSessionKey } from './session-cookie.ts';
import { connect } from 'node:net';
import { MAX_COOKIE_CHARS } from './session-cookie.ts';
import { Agent } from 'node:http';

const fixtures = join(import.meta.dirname, '../../../test/fixtures/kbs');
let kbs: TestKbs | undefined;
afterEach(async () => {
  await kbs?.close();
  kbs = undefined;
});

const fast = { handshakeAttempts: 1, handshakeRetryDelayMs: 0 };
const errorType = (body: Buffer) => (JSON.parse(body.toString()) as { type: string }).type.split('/').pop();
const detail = (body: Buffer) => (JSON.parse(body.toString()) as { detail: string }).detail;
const lastRefusal = () => kbs!.events.filter((e) => e.type === 'attestation-refused' || e.type === 'release-refused').at(-1);

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'released';
  } catch (err) {
    return err instanceof KbsClientError ? `${err.kbsType}:${err.message}` : String(err);
  }
}

describe('KBS 0.4.0 server', () => {
  it('runs auth → attest → resource like the attestation-agent and returns a decryptable JWE', async () => {
    kbs = await startTestKbs();
    const auth = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
    expect(auth.status).toBe(200);
    const challenge = JSON.parse(auth.body.toString()) as Record<string, string>;
    expect(Object.keys(challenge)).toEqual(['nonce', 'extra-params']);
    expect(challenge['extra-params']).toBe('');
    expect(Buffer.from(challenge['nonce']!, 'base64')).toHaveLength(32);
    expect(challenge['nonce']).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(String(auth.headers['set-cookie'])).toMatch(/^kbs-session-id=v1\.[\w-]{10}\.[\w-]+; Expires=[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);

    const client = new KbsClient({ baseUrl: kbs.url, ...fast });
    expect((await client.getResource(TEST_RESOURCE)).toString()).toBe(TEST_SECRET);
    const v = verifyEar(client.token!, [kbs.signer.publicJwk], new Date());
    expect(v.ok && v.claims.submods['cpu0']!['ear.status']).toBe('warning');
    expect(kbs.events.map((e) => e.type)).toEqual(['attested', 'released']);
    expect(JSON.stringify(kbs.events)).not.toContain('kbs-test-secret');
  });

  it('serves the Bearer-token path (confidential-data-hub) with P-521 and RSA TEE keys too', async () => {
    kbs = await startTestKbs();
    for (const keyAlgorithm of ['ECDH-ES+A256KW-P521', 'RSA-OAEP-256'] as const) {
      const client = new KbsClient({ baseUrl: kbs.url, keyAlgorithm, ...fast });
      const token = await client.handshake();
      const bearer = new KbsClient({ baseUrl: kbs.url, ...fast });
      expect((await bearer.getResourceWithBearer(TEST_RESOURCE, token, client.teeKey!.privateKey)).toString()).toBe(TEST_SECRET);
    }
  });

  it('answers a first GET without cookie with 401 TokenNotFound ErrorInformation', async () => {
    kbs = await startTestKbs();
    const r = await httpCall('GET', `${kbs.url}/kbs/v0/resource/${TEST_RESOURCE}`);
    expect([r.status, r.headers['content-type'], JSON.parse(r.body.toString())]).toEqual([
      401,
      'application/json',
      { type: 'https://github.com/confidential-containers/kbs/errors/TokenNotFound', detail: 'Attestation Token not found' },
    ]);
  });

  it('refuses real-world requests of other protocol versions and TEEs', async () => {
    kbs = await startTestKbs();
    for (const f of ['cca-kbs-request.json', 'sev_request.json']) {
      const r = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: JSON.parse(readFileSync(join(fixtures, f), 'utf8')) });
      expect([r.status, errorType(r.body)]).toEqual([401, 'AttestationError']);
      expect(detail(r.body)).toContain('KBS Client Protocol Version Mismatch');
    }
    const tdx = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'cca', 'extra-params': '' } });
    expect(detail(tdx.body)).toContain('not supported');
  });

  describe('refusals, each with its own code, nothing released', () => {
    it('policy forbids sample', async () => {
      kbs = await startTestKbs({ policy: {} });
      expect(await refusal(new KbsClient({ baseUrl: kbs.url, ...fast }).getResource(TEST_RESOURCE))).toMatch(/^AttestationError:.*SampleTeeNotAllowed/);
    });

    it('wrong nonce, evidence bound to another TEE key, replayed attestation', async () => {
      kbs = await startTestKbs();
      const wrongNonce = new KbsClient({ baseUrl: kbs.url, ...fast, evidence: (_n, pk) => sampleCompositeEvidence(Buffer.alloc(32, 1).toString('base64'), pk) });
      expect(await refusal(wrongNonce.getResource(TEST_RESOURCE))).toMatch(/ReportDataMismatch/);
      const otherKey = generateTeeKeyPair().publicKey;
      const boundElsewhere = new KbsClient({ baseUrl: kbs.url, ...fast, evidence: (n) => sampleCompositeEvidence(n, otherKey) });
      expect(await refusal(boundElsewhere.getResource(TEST_RESOURCE))).toMatch(/ReportDataMismatch/);

      // capture a genuine /attest body, then replay it on a fresh session
      const auth1 = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
      const cookie1 = String(auth1.headers['set-cookie']).split(';')[0]!;
      const nonce1 = (JSON.parse(auth1.body.toString()) as { nonce: string }).nonce;
      const key = generateTeeKeyPair().publicKey;
      const body = { 'runtime-data': { nonce: nonce1, 'tee-pubkey': key }, 'tee-evidence': { primary_evidence: sampleEvidence(primaryReportData(nonce1, key, '')), additional_evidence: '' } };
      expect((await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body, headers: { cookie: cookie1 } })).status).toBe(200);
      const again = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body, headers: { cookie: cookie1 } });
      expect(detail(again.body)).toMatch(/NonceAlreadyUsed/);
      const auth2 = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
      const cookie2 = String(auth2.headers['set-cookie']).split(';')[0]!;
      const replay = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body, headers: { cookie: cookie2 } });
      expect([replay.status, detail(replay.body)]).toEqual([401, expect.stringMatching(/AttestationReplayed/)]);
      // a nonce that was never issued is a plain mismatch; another live session's nonce is cross-session
      const auth3 = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
      const nonce3 = (JSON.parse(auth3.body.toString()) as { nonce: string }).nonce;
      const auth4 = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
      const cookie4 = String(auth4.headers['set-cookie']).split(';')[0]!;
      const bogus = { ...body, 'runtime-data': { nonce: Buffer.alloc(32, 9).toString('base64'), 'tee-pubkey': key } };
      const auth5 = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
      const bogusR = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: bogus, headers: { cookie: String(auth5.headers['set-cookie']).split(';')[0]! } });
      expect(detail(bogusR.body)).toBe('RCAR handshake Attest failed: NonceMismatch: the attestation was not accepted');
      expect(lastRefusal()).toMatchObject({ code: 'NonceMismatch', message: 'runtime-data.nonce is not the nonce issued for this session' });
      const cross = { ...body, 'runtime-data': { nonce: nonce3, 'tee-pubkey': key } };
      const crossR = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: cross, headers: { cookie: cookie4 } });
      expect(detail(crossR.body)).toMatch(/NonceMismatch/);
      expect(lastRefusal()).toMatchObject({ code: 'NonceMismatch', message: 'runtime-data.nonce belongs to another session' });
      expect(kbs.events.filter((e) => e.type === 'released')).toHaveLength(0);
    });

    it('expired session (injected clock)', async () => {
      let t = Date.now();
      kbs = await startTestKbs({ now: () => t });
      const client = new KbsClient({ baseUrl: kbs.url, ...fast, getAttempts: 1 });
      await client.handshake();
      t += 301_000;
      expect(await refusal(client.getResource(TEST_RESOURCE))).toMatch(/^TokenNotFound:/);
      const auth = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
      t += 301_000;
      const late = await httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body: {}, headers: { cookie: String(auth.headers['set-cookie']).split(';')[0]! } });
      expect(detail(late.body)).toMatch(/SessionExpired/);
    });

    it('credential out of scope, tampered ciphertext, token signed by another key', async () => {
      kbs = await startTestKbs();
      kbs.sealCredential('other-agents-only', 'default/local-resources/scoped', 'scoped-value', { mode: 'Strict', agents: ['someone-else'] });
      kbs.lists.agents[0]!.credentials.push('other-agents-only');
      const client = new KbsClient({ baseUrl: kbs.url, ...fast, getAttempts: 1 });
      await client.handshake();
      expect(await refusal(client.getResource('default/local-resources/scoped'))).toBe(`PolicyDeny:resource default/local-resources/scoped refused: ${GENERIC_RELEASE_REFUSAL}`);
      expect(lastRefusal()).toMatchObject({ code: 'NotEntitled', agent: 'agents/bot' });
      const cred = kbs.lists.credentials[0]!;
      const b = Buffer.from(cred.encryptedData, 'base64');
      b[b.length - 1]! ^= 1;
      cred.encryptedData = b.toString('base64');
      expect(await refusal(client.getResource(TEST_RESOURCE))).toMatch(/^PolicyDeny:.*ReleaseDenied/);
      expect(lastRefusal()).toMatchObject({ code: 'Tampered' });
      const forged = new KbsClient({ baseUrl: kbs.url, ...fast });
      const tee = generateTeeKeyPair();
      const foreign = await startTestKbs();
      try {
        const t = await new KbsClient({ baseUrl: foreign.url, ...fast }).handshake();
        expect(await refusal(forged.getResourceWithBearer(TEST_RESOURCE, t, tee.privateKey))).toMatch(/^TokenVerifierError:.*EarUntrustedKey/);
      } finally {
        await foreign.close();
      }
      expect(kbs.events.filter((e) => e.type === 'released')).toHaveLength(0);
    });

    it('agent policy below minimum and unknown identity', async () => {
      kbs = await startTestKbs();
      kbs.lists.policies[0]!.spec = AttestationPolicySpecSchema.parse({ allowSampleTee: true });
      const client = new KbsClient({ baseUrl: kbs.url, ...fast, getAttempts: 1 });
      await client.handshake();
      expect(await refusal(client.getResource(TEST_RESOURCE))).toMatch(/ReleaseDenied/);
      expect(lastRefusal()).toMatchObject({ code: 'AppraisalBelowMinimum', agent: 'agents/bot' });
      kbs.lists.agents[0]!.identity = { peerAddress: '10.0.0.9' };
      expect(await refusal(client.getResource(TEST_RESOURCE))).toMatch(/ReleaseDenied/);
      expect(lastRefusal()).toMatchObject({ code: 'IdentityMismatch', agent: 'agents/bot', reason: "requester address is not agent agents/bot's instance" });
    });
  });
});

describe('request metrics labels', () => {
  it('maps any request path to one of four endpoints', () => {
    expect(endpointOf('/kbs/v0/auth')).toBe('auth');
    expect(endpointOf('/kbs/v0/attest?x=1')).toBe('attest');
    expect(endpointOf('/kbs/v0/resource/default/key/1')).toBe('resource');
    for (const hostile of [undefined, '', '/', '/kbs/v0/authx', '/kbs/v0/resource-policy', '/kbs/v1/auth', `/kbs/v0/${'a'.repeat(5000)}`, '/../kbs/v0/auth']) expect(endpointOf(hostile)).toBe('other');
  });
});

describe('protocol errors, each with its KBS type, status and specific detail', () => {
  it('/auth: malformed JSON, wrong shape, unknown TEE, TEE without a verifier; 404 only for paths and plugins', async () => {
    kbs = await startTestKbs();
    const call = async (method: string, path: string, opts: { body?: unknown; rawBody?: string } = {}) => {
      const r = await httpCall(method, `${kbs!.url}${path}`, opts);
      return [r.status, errorType(r.body), detail(r.body)];
    };
    expect(await call('POST', '/kbs/v0/auth', { rawBody: '{"version":' })).toEqual([401, 'SerdeError', 'request body is not valid JSON']);
    expect(await call('POST', '/kbs/v0/auth', { body: {} })).toEqual([401, 'AttestationError', 'RCAR handshake Auth failed: Request.version must be a string']);
    expect(await call('POST', '/kbs/v0/auth', { body: { version: '0.4.0', tee: 'bogus', 'extra-params': '' } })).toEqual([401, 'AttestationError', 'RCAR handshake Auth failed: unknown TEE type']);
    // a kbs-types TEE this KBS has no verifier for (the test registry has only the sample verifiers)
    expect(await call('POST', '/kbs/v0/auth', { body: { version: '0.4.0', tee: 'tdx', 'extra-params': '' } })).toEqual([
      401,
      'AttestationError',
      'RCAR handshake Auth failed: TEE type tdx is not supported by this KBS',
    ]);
    expect(kbs.kbs.sessions.size).toBe(0);
    expect(await call('GET', '/kbs/v0/nothing')).toEqual([404, 'PluginNotFound', 'unknown KBS plugin']);
    expect(await call('GET', '/other')).toEqual([404, 'PluginNotFound', 'not a KBS v0 endpoint']);
    expect((await call('GET', '/kbs/v0/resource/a/b'))[0]).toBe(404);
    expect((await call('GET', '/kbs/v0/resource/a/b'))[1]).toBe('InvalidRequestPath');
    expect((await call('GET', '/kbs/v0/attestation-policy'))[0]).toBe(401);
  });
});

/** /auth then /attest with sample evidence; `padding` grows additional_evidence (and so the EAR) by JSON whitespace. */
async function attestedSession(padding = 0): Promise<{ token: string; attestedCookie: string }> {
  const auth = await httpCall('POST', `${kbs!.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
  const cookie = String(auth.headers['set-cookie']).split(';')[0]!;
  const nonce = (JSON.parse(auth.body.toString()) as { nonce: string }).nonce;
  const tee = generateTeeKeyPair();
  // The EAR carries additional_evidence verbatim, so JSON whitespace after the device evidence grows it.
  const additional = JSON.stringify({ sampledevice: sampleEvidence(deviceReportData(nonce, tee.publicKey), '2') }) + ' '.repeat(padding);
  const body = { 'runtime-data': { nonce, 'tee-pubkey': tee.publicKey }, 'tee-evidence': { primary_evidence: sampleEvidence(primaryReportData(nonce, tee.publicKey, additional)), additional_evidence: additional } };
  const r = await httpCall('POST', `${kbs!.url}/kbs/v0/attest`, { body, headers: { cookie } });
  expect(r.status).toBe(200);
  const token = (JSON.parse(r.body.toString()) as { token: string }).token;
  return { token, attestedCookie: String(r.headers['set-cookie']).split(';')[0]! };
}

describe('attested cookie size', () => {
  it('an EAR over MAX_INLINE_EAR is left out of the cookie (the session is served from this replica)', async () => {
    kbs = await startTestKbs();
    const small = await attestedSession(0);
    expect(small.token.length).toBeLessThanOrEqual(MAX_INLINE_EAR);
    expect(small.attestedCookie.length).toBeGreaterThan(small.token.length);
    const big = await attestedSession(MAX_INLINE_EAR);
    expect(big.token.length).toBeGreaterThan(MAX_INLINE_EAR);
    expect(big.attestedCookie.length).toBeLessThan(512);
    const r = await httpCall('GET', `${kbs.url}/kbs/v0/resource/${TEST_RESOURCE}`, { headers: { cookie: big.attestedCookie } });
    expect(r.status).toBe(200);
  });
});

describe('Cookie header', () => {
  it('finds kbs-session-id among other cookies, and ignores a Cookie header over MAX_COOKIE_CHARS + 1024', async () => {
    kbs = await startTestKbs();
    const { attestedCookie } = await attestedSession();
    const get = (cookie: string) => httpCall('GET', `${kbs!.url}/kbs/v0/resource/${TEST_RESOURCE}`, { headers: { cookie } }).then((r) => [r.status, r.status === 200 ? 'released' : errorType(r.body)]);
    expect(await get(`theme=dark; ${attestedCookie}`)).toEqual([200, 'released']);
    // another cookie first, whose value is not ours: only the named one is used
    expect(await get(`other=v1.x.y;${attestedCookie}`)).toEqual([200, 'released']);
    const cap = MAX_COOKIE_CHARS + 1024;
    const filler = (n: number) => `pad=${'p'.repeat(n - attestedCookie.length - '; pad='.length)}; ${attestedCookie}`;
    expect(filler(cap)).toHaveLength(cap);
    expect(await get(filler(cap))).toEqual([200, 'released']);
    expect(await get(filler(cap + 1))).toEqual([401, 'TokenNotFound']);
  });
});

describe('connection handling', () => {
  it('keeps answered connections alive, and closes the one whose body was over the limit', async () => {
    kbs = await startTestKbs({ server: { maxAuthBodyBytes: 1024 } });
    const agent = new Agent({ keepAlive: true });
    try {
      const ok = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' }, agent });
      expect([ok.status, ok.headers.connection]).toEqual([200, 'keep-alive']);
      const refused = await httpCall('GET', `${kbs.url}/kbs/v0/nothing`, { agent });
      expect([refused.status, refused.headers.connection]).toEqual([404, 'keep-alive']);
      const over = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { rawBody: 'x'.repeat(1025), agent });
      expect([over.status, over.headers.connection]).toEqual([401, 'close']);
    } finally {
      agent.destroy();
    }
  });
});

describe('LogLimiter memory', () => {
  it('forgets every window once more than 1000 keys are tracked', () => {
    const l = new LogLimiter(1, 10_000);
    expect([l.admit('a', 0), l.admit('a', 1)]).toEqual([0, undefined]);
    for (let i = 0; i < 999; i++) l.admit(`k${i}`, 2); // 1000 keys: nothing forgotten yet
    l.admit('k999', 2); // 1001st key: the table had 1000 (not more), so it is kept
    expect(l.admit('a', 3)).toBeUndefined();
    l.admit('k1000', 4); // now more than 1000: all windows are dropped
    expect(l.admit('a', 5)).toBe(0);
  });
});

describe('routing', () => {
  it('answers each endpoint only for its method and exact path; the admin API is disabled', async () => {
    kbs = await startTestKbs();
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await httpCall(method, `${kbs!.url}${path}`, body === undefined ? {} : { body });
      return [r.status, errorType(r.body), detail(r.body)];
    };
    expect(await call('GET', '/kbs/v0/auth')).toEqual([404, 'InvalidRequestPath', '/auth accepts POST only']);
    expect(await call('GET', '/kbs/v0/attest')).toEqual([404, 'InvalidRequestPath', '/attest accepts POST only']);
    expect(await call('POST', '/kbs/v0/auth/extra', { version: '0.4.0', tee: 'sample', 'extra-params': '' })).toEqual([404, 'PluginNotFound', 'unknown KBS plugin']);
    expect(await call('POST', '/kbs/v0/attest/extra', {})).toEqual([404, 'PluginNotFound', 'unknown KBS plugin']);
    expect(await call('POST', `/kbs/v0/resource/${TEST_RESOURCE}`, {})).toEqual([401, 'AdminAuthAccess', 'the admin API is disabled: resources come from SealedCredentials']);
    expect(await call('GET', '/kbs/v0/resource/a/b/c/d')).toEqual([404, 'InvalidRequestPath', 'resource path must be <repo>/<type>/<tag> of [A-Za-z0-9_.-] segments']);
    for (const admin of ['attestation-policy', 'resource-policy', 'reference-value']) {
      expect(await call('POST', `/kbs/v0/${admin}`, {})).toEqual([401, 'AdminAuthAccess', 'the admin API is disabled: policies and reference values come from AttestationPolicies']);
    }
    expect(kbs.kbs.sessions.size).toBe(0);
  });

  it('answers malformed HTTP with a KBS SerdeError and closes the connection', async () => {
    kbs = await startTestKbs();
    const { port } = new URL(kbs.url);
    const reply = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      socket.on('close', () => resolve(got));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*connection: close[\s\S]*\r\n\r\n\{"type":"https:\/\/github\.com\/confidential-containers\/kbs\/errors\/SerdeError","detail":"malformed HTTP request"\}$/);
  });

  it('a failing hook becomes a 401 PluginInternalError, not a hung request', async () => {
    kbs = await startTestKbs({ server: { entitlements: { authorize: () => Promise.reject(new Error('informer cache unavailable')) } } });
    const client = new KbsClient({ baseUrl: kbs.url, ...fast });
    await client.handshake();
    const r = await httpCall('GET', `${kbs.url}/kbs/v0/resource/${TEST_RESOURCE}`, { headers: { authorization: `Bearer ${client.token!}` } });
    expect([r.status, errorType(r.body), detail(r.body)]).toEqual([401, 'PluginInternalError', 'internal error']);
  });
});

describe('server options and lifecycle', () => {
  it('reports each request to the observer with its endpoint label, status and the session count', async () => {
    const seen: [KbsEndpoint, number, number][] = [];
    let sessions = 0;
    kbs = await startTestKbs({ server: { observer: { kbsRequest: (e, code) => void seen.push([e, code, -1]), kbsSessions: (n) => void (sessions = n) } } });
    await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
    await httpCall('GET', `${kbs.url}/kbs/v0/nothing`);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.map(([e, c]) => [e, c])).toEqual([
      ['auth', 200],
      ['other', 404],
    ]);
    expect(sessions).toBe(1);
  });

  it('logs refusals at warn (rate-limited per code), sample-TEE attestations at warn, the rest at info; works without onEvent', async () => {
    const lines: [string, string, object][] = [];
    const logger = { info: (o: object, m: string) => void lines.push(['info', m, o]), warn: (o: object, m: string) => void lines.push(['warn', m, o]) };
    kbs = await startTestKbs({ server: { logger, refusalLogsPerWindow: 2, onEvent: undefined } });
    for (let i = 0; i < 3; i++) await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' }, localAddress: '127.0.0.2' });
    const client = new KbsClient({ baseUrl: kbs.url, ...fast });
    await client.getResource(TEST_RESOURCE);
    await httpCall('GET', `${kbs.url}/kbs/v0/resource/${TEST_RESOURCE}`, { headers: { authorization: 'Bearer x' } });
    expect(lines.map(([level, msg]) => `${level} ${msg}`)).toEqual([
      'warn kbs attestation-refused',
      'warn kbs attestation-refused', // the third UnknownRequester in this window is counted, not logged
      'warn kbs attested a sample TEE (no hardware security; development only)',
      'info kbs released',
      'warn kbs release-refused',
    ]);
    expect(lines[0]![2]).toMatchObject({ code: 'UnknownRequester', peerAddress: '127.0.0.2' });
  });

  it('listen rejects on a port in use; setTls only on an HTTPS server; the URL names the scheme', async () => {
    kbs = await startTestKbs();
    const second = createKbsServer({ registry: defaultVerifierRegistry(), signer: kbs.signer, policyFor: () => Promise.resolve(undefined), entitlements: { authorize: () => Promise.resolve({ ok: false, reason: 'none' }) } });
    await expect(second.listen(Number(new URL(kbs.url).port))).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(() => kbs!.kbs.setTls({ key: '', cert: '' })).toThrow('setTls on a plain HTTP KBS server');
    expect(kbs.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const tls = await generateKbsTls(['127.0.0.1']);
    const secure = await startTestKbs({ server: { tls: { key: tls.key, cert: tls.cert } } });
    try {
      expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await secure.close();
    }
  });

  it('admits any address by default, and close() ends open connections and releases the port', async () => {
    const server = createKbsServer({ registry: defaultVerifierRegistry(), signer: EarSigner.generate(), policyFor: () => Promise.resolve(undefined), entitlements: { authorize: () => Promise.resolve({ ok: false, reason: 'none' }) } });
    const { url, port } = await server.listen(0);
    const agent = new Agent({ keepAlive: true });
    const r = await httpCall('POST', `${url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' }, agent, localAddress: '127.0.0.2' });
    expect(r.status).toBe(200);
    await server.close();
    agent.destroy();
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('connect', () => (socket.destroy(), resolve('connected')));
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('setSessionKeys: cookies sealed with a key that is neither current nor previous stop opening', async () => {
    const first = generateSessionKey();
    kbs = await startTestKbs({ server: { sessionKeys: { current: first } } });
    const auth = async () => {
      const r = await httpCall('POST', `${kbs!.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
      return String(r.headers['set-cookie']).split(';')[0]!;
    };
    const old = await auth();
    kbs.kbs.setSessionKeys({ current: generateSessionKey(), previous: first });
    const attest = (cookie: string) => httpCall('POST', `${kbs!.url}/kbs/v0/attest`, { body: {}, headers: { cookie } }).then((r) => `${errorType(r.body)}: ${detail(r.body)}`);
    // still opens with the previous key: the session is found and the (empty) attestation is what fails
    expect(await attest(old)).toBe('SerdeError: Attestation.runtime-data must be an object {nonce, tee-pubkey}');
    kbs.kbs.setSessionKeys({ current: generateSessionKey() });
    const older = await auth();
    kbs.kbs.setSessionKeys({ current: generateSessionKey() });
    expect(await attest(older)).toBe('AttestationError: RCAR handshake Attest failed: UnknownSession: the attestation was not accepted');
  });
});
