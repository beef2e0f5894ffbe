// Sessions across KBS replicas (issue 15, item 2): the encrypted session cookie lets any replica with the
// session keys continue a handshake, and what a replayed or tampered cookie gets an attacker — nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { sampleEvidence } from '../../attestation/sample/verifier.ts';
import { verifyEar, teePubkeyFromEar } from '../../attestation/policy/ear.ts';
import { httpCall } from '../../sim/guest/http.ts';
import { decryptKbsJwe } from '../jwe.ts';
import { primaryReportData } from '../../protocol/runtime-data.ts';
import { generateTeeKeyPair, type TeeKeyPair } from '../../protocol/tee-key.ts';
import { startTestKbs, TEST_RESOURCE, TEST_SECRET, type TestKbs } from '../../../test/support/kbs-harness.ts';
import { generateSessionKey, SessionCookies } from './session-cookie.ts';
import { SessionStore } from './sessions.ts';

const open: TestKbs[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((k) => k.close()));
});

const AUTH = { version: '0.4.0', tee: 'sample', 'extra-params': '' };
const detail = (body: Buffer) => (JSON.parse(body.toString()) as { detail: string }).detail;
const cookieOf = (r: { headers: Record<string, unknown> }) => String(r.headers['set-cookie']).split(';')[0]!;

function attestation(nonce: string, tee: TeeKeyPair, claimedKey = tee.publicKey) {
  return { 'runtime-data': { nonce, 'tee-pubkey': claimedKey }, 'tee-evidence': { primary_evidence: sampleEvidence(primaryReportData(nonce, tee.publicKey, '')), additional_evidence: '' } };
}

/** Replicas sharing what the operator's Secrets and informers give every replica. */
async function replicas(n = 2): Promise<TestKbs[]> {
  const keys = { current: generateSessionKey() };
  const first = await startTestKbs({ server: { sessionKeys: keys } });
  open.push(first);
  for (let i = 1; i < n; i++) open.push(await startTestKbs({ shared: { keyring: first.keyring, signer: first.signer, lists: first.lists }, server: { sessionKeys: keys } }));
  return open.slice(-n);
}

async function auth(kbs: TestKbs, localAddress?: string) {
  const r = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: AUTH, ...(localAddress ? { localAddress } : {}) });
  expect(r.status).toBe(200);
  return { cookie: cookieOf(r), nonce: (JSON.parse(r.body.toString()) as { nonce: string }).nonce };
}

const attest = (kbs: TestKbs, cookie: string, body: object) => httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body, headers: { cookie } });
const resource = (kbs: TestKbs, cookie: string) => httpCall('GET', `${kbs.url}/kbs/v0/resource/${TEST_RESOURCE}`, { headers: { cookie } });

describe('KBS sessions across replicas', () => {
  it('a handshake continues on whichever replica each request reaches', async () => {
    const [a, b] = (await replicas()) as [TestKbs, TestKbs];
    const tee = generateTeeKeyPair();
    const s = await auth(a);
    const att = await attest(b, s.cookie, attestation(s.nonce, tee));
    expect(att.status).toBe(200);
    // The attested cookie carries the EAR: a replica that did not attest verifies it and releases.
    const res = await resource(a, cookieOf(att));
    expect(res.status).toBe(200);
    expect(decryptKbsJwe(JSON.parse(res.body.toString()), tee.privateKey).toString()).toBe(TEST_SECRET);
    expect(a.events.filter((e) => e.type === 'released')).toHaveLength(1);
    expect(b.events.filter((e) => e.type === 'attested')).toHaveLength(1);
  });

  it('a replayed /attest cookie: refused by the replica that consumed it; elsewhere it still needs evidence over its nonce, and yields only what the attested key can open', async () => {
    const [a, b, c] = (await replicas(3)) as [TestKbs, TestKbs, TestKbs];
    const victim = generateTeeKeyPair();
    const s = await auth(a);
    const body = attestation(s.nonce, victim);
    const first = await attest(a, s.cookie, body);
    expect(first.status).toBe(200);
    // same replica: single use
    expect(detail((await attest(a, s.cookie, body)).body)).toMatch(/NonceAlreadyUsed/);
    // The attacker's own TEE key with the victim's evidence: the evidence does not bind that key.
    const attacker = generateTeeKeyPair();
    const swapped = await attest(b, s.cookie, attestation(s.nonce, victim, attacker.publicKey));
    expect(swapped.status).toBe(401);
    expect(b.events.at(-1)).toMatchObject({ type: 'attestation-refused' });
    expect(detail(swapped.body)).toMatch(/RCAR handshake Attest failed: \w+: the attestation was not accepted/);
    // ... which consumed the nonce on b as well: a verbatim replay there is now refused too.
    expect(detail((await attest(b, s.cookie, body)).body)).toMatch(/NonceAlreadyUsed/);
    // A replica that never saw the nonce accepts the verbatim replay once (bounded: once per replica,
    // within the session TTL) — and all it issues is bound to the victim's TEE key.
    const replay = await attest(c, s.cookie, body);
    expect(replay.status).toBe(200);
    expect(detail((await attest(c, s.cookie, body)).body)).toMatch(/NonceAlreadyUsed/);
    const token = (JSON.parse(replay.body.toString()) as { token: string }).token;
    const ear = verifyEar(token, [a.signer.publicJwk], new Date());
    expect(ear.ok && teePubkeyFromEar(ear.claims)).toEqual(victim.publicKey);
    const jwe = JSON.parse((await resource(c, cookieOf(replay))).body.toString()) as never;
    expect(() => decryptKbsJwe(jwe, attacker.privateKey)).toThrow();
    expect(decryptKbsJwe(jwe, victim.privateKey).toString()).toBe(TEST_SECRET); // only the TEE holding the key
  });

  it('a cookie is bound to the address that opened the session, and a tampered or foreign cookie opens nothing', async () => {
    const [a, b] = (await replicas()) as [TestKbs, TestKbs];
    const tee = generateTeeKeyPair();
    const s = await auth(a);
    const moved = await httpCall('POST', `${b.url}/kbs/v0/attest`, { body: attestation(s.nonce, tee), headers: { cookie: s.cookie }, localAddress: '127.0.0.2' });
    expect(detail(moved.body)).toMatch(/SessionAddressMismatch/);
    const tampered = s.cookie.slice(0, -3) + (s.cookie.endsWith('AAA') ? 'BBB' : 'AAA');
    expect(detail((await attest(b, tampered, attestation(s.nonce, tee))).body)).toMatch(/UnknownSession/);
    // a replica with other session keys (another cluster, or keys rotated twice since) cannot open it
    const stranger = await startTestKbs({ shared: { keyring: a.keyring, signer: a.signer, lists: a.lists } });
    open.push(stranger);
    expect(detail((await attest(stranger, s.cookie, attestation(s.nonce, tee))).body)).toMatch(/UnknownSession/);
    // the genuine session is untouched by all of that (the refusals never reached its nonce)
    const ok = await attest(b, s.cookie, attestation(s.nonce, tee));
    expect(ok.status).toBe(200);
    // an attested cookie is no /auth cookie: it cannot attest again
    expect(detail((await attest(a, cookieOf(ok), attestation(s.nonce, tee))).body)).toMatch(/NonceAlreadyUsed/);
  });
});

describe('cookies another replica sealed (mutation survivors)', () => {
  it('an attested cookie is served by a replica that did not attest it, and refused by one that does not trust its EAR signer', async () => {
    const [a, b] = (await replicas()) as [TestKbs, TestKbs];
    const tee = generateTeeKeyPair();
    const s = await auth(a);
    const att = await attest(a, s.cookie, attestation(s.nonce, tee));
    expect((await resource(b, cookieOf(att))).status).toBe(200);
    // same session keys, another EAR signer: the cookie opens but its token is not trusted
    const keys = { current: generateSessionKey() };
    const c = await startTestKbs({ server: { sessionKeys: keys } });
    const d = await startTestKbs({ server: { sessionKeys: keys } }); // shares c's session keys, not its signer
    open.push(c, d);
    const s2 = await auth(c);
    const att2 = await attest(c, s2.cookie, attestation(s2.nonce, tee));
    const r = await resource(d, cookieOf(att2));
    expect([r.status, detail(r.body)]).toEqual([401, 'Attestation Token not found']);
  });

  it('an /auth cookie adopted into a full table of attested sessions is refused with SessionTableFull', async () => {
    const keys = { current: generateSessionKey() };
    const a = await startTestKbs({ server: { sessionKeys: keys } });
    const b = await startTestKbs({ shared: { keyring: a.keyring, signer: a.signer, lists: a.lists }, server: { sessionKeys: keys, maxSessions: 1 } });
    open.push(a, b);
    const tee = generateTeeKeyPair();
    const own = await auth(b);
    expect((await attest(b, own.cookie, attestation(own.nonce, tee))).status).toBe(200);
    const s = await auth(a);
    const r = await attest(b, s.cookie, attestation(s.nonce, tee));
    expect(detail(r.body)).toBe('RCAR handshake Attest failed: SessionTableFull: the attestation was not accepted');
  });
});

describe('SessionCookies', () => {
  it('opens what it sealed, refuses tampering and unknown keys, and keeps the previous key for one rotation', () => {
    const k1 = generateSessionKey();
    const k2 = generateSessionKey();
    const k3 = generateSessionKey();
    const cookies = new SessionCookies({ current: k1 });
    const claims = { k: 'auth' as const, sid: 'ab'.repeat(16), tee: 'sample', nonce: 'n', peer: '10.0.0.1', exp: 1_000 };
    const sealed = cookies.seal(claims);
    expect(sealed).toMatch(/^v1\.[\w-]{10}\.[\w-]+$/);
    expect(cookies.open(sealed)).toEqual({ ok: true, claims });
    // every bit of the ciphertext, tag and header is authenticated
    // (bytes, not base64url characters: the last character's unused low bits are not part of the ciphertext)
    const raw = Buffer.from(sealed.split('.')[2]!, 'base64url');
    for (let i = 0; i < raw.length; i += 3) {
      const flipped = Buffer.from(raw);
      flipped[i]! ^= 1 << i % 8;
      expect(cookies.open(`v1.${sealed.split('.')[1]}.${flipped.toString('base64url')}`).ok, `byte ${i}`).toBe(false);
    }
    expect(cookies.open(sealed.replace(/^v1/, 'v2'))).toEqual({ ok: false, code: 'CookieMalformed' });
    expect(cookies.open('f'.repeat(32))).toEqual({ ok: false, code: 'CookieMalformed' });
    expect(cookies.open('x'.repeat(30_000))).toEqual({ ok: false, code: 'CookieMalformed' });
    // rotation: current → previous still opens; after a second rotation it does not
    cookies.setKeys({ current: k2, previous: k1 });
    expect(cookies.open(sealed).ok).toBe(true);
    cookies.setKeys({ current: k3, previous: k2 });
    expect(cookies.open(sealed)).toEqual({ ok: false, code: 'CookieUnknownKey' });
    expect(() => cookies.setKeys({ current: Buffer.alloc(16) })).toThrow(/32 bytes/);
  });

  it('round-trips an attested cookie with the EAR', () => {
    const cookies = new SessionCookies({ current: generateSessionKey() });
    const payload = Buffer.from(JSON.stringify({ eat_profile: 'tag:github.com,2023:veraison/ear', submods: { cpu0: { x: 'a'.repeat(3000) } } })).toString('base64url');
    const token = `eyJhbGciOiJFUzI1NiJ9.${payload}.c2ln`;
    const sealed = cookies.seal({ k: 'attested', sid: 's', exp: 1, token });
    expect(sealed.length).toBeLessThan(token.length * 1.4 + 200);
    expect(cookies.open(sealed)).toEqual({ ok: true, claims: { k: 'attested', sid: 's', exp: 1, token } });
  });
});

describe('SessionStore.adopt', () => {
  it('takes a session another replica opened once, and never a nonce consumed here — even one forgotten under a flood', () => {
    let t = 0;
    const s = new SessionStore({ ttlSeconds: 10, maxSessions: 2, now: () => t });
    const foreign = { id: 'f1', tee: 'sample', nonce: 'N1', peerAddress: '10.0.0.1', expiresAt: 10_000 };
    const adopted = s.adopt(foreign);
    if ('refused' in adopted) throw new Error(adopted.refused);
    s.consume(adopted);
    expect(s.adopt(foreign)).toEqual({ refused: 'NonceAlreadyUsed' });
    s.fail(adopted);
    // 4+ more consumptions push N1 out of the used-nonce table (cap 2 × maxSessions)
    for (let i = 0; i < 6; i++) {
      t += 1;
      const o = s.adopt({ ...foreign, id: `g${i}`, nonce: `M${i}`, expiresAt: t + 10_000 });
      if ('refused' in o) throw new Error(o.refused);
      s.consume(o);
      s.fail(o);
    }
    expect(s.classifyNonce('N1')).toBe('unknown'); // forgotten ...
    expect(s.adopt(foreign)).toEqual({ refused: 'NonceAlreadyUsed' }); // ... but not accepted again
    // a session opened after the last forgotten consumption is fine
    t += 1;
    const later = s.adopt({ ...foreign, id: 'late', nonce: 'L', expiresAt: t + 10_000 });
    expect('refused' in later).toBe(false);
    t = 20_000;
    expect(s.adopt({ ...foreign, id: 'old', nonce: 'O', expiresAt: 15_000 })).toEqual({ refused: 'SessionExpired' });
  });
});
