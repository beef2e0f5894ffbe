import { describe, expect, it } from 'vitest';
import { generateTeeKeyPair, parseTeePubKey } from '../../protocol/tee-key.ts';
import { parseAttestation, parseAuthRequest, parseJson } from './messages.ts';
import { SessionStore } from './sessions.ts';

const key = generateTeeKeyPair().publicKey;
const valid = { 'runtime-data': { nonce: 'N', 'tee-pubkey': key }, 'tee-evidence': { primary_evidence: { svn: '1' }, additional_evidence: '' } };
const msg = (r: { ok: boolean; message?: string }) => (r.ok ? 'ok' : r.message);

describe('KBS message parsers', () => {
  it('parse the AA request and attestation shapes', () => {
    expect(parseAuthRequest({ version: '0.4.0', tee: 'sample', 'extra-params': { 'supported-hash-algorithms': ['sha384'] } })).toEqual({ ok: true, value: { version: '0.4.0', tee: 'sample' } });
    const a = parseAttestation({ ...valid, 'init-data': { format: 'toml', body: 'algorithm = "sha256"\nversion = "0.1.0"\n' } });
    expect(a.ok && [a.value.nonce, a.value.initData?.digest.length]).toEqual(['N', 32]);
    const extra = parseAttestation({ ...valid, 'runtime-data': { nonce: 'N', 'tee-pubkey': { ...key, extra: 'dropped' } } });
    expect(extra.ok && Object.keys(extra.value.teePubkey).sort()).toEqual(['alg', 'crv', 'kty', 'x', 'y']);
  });

  it('name the field and the check on bad input', () => {
    expect(msg(parseJson(Buffer.from('{')))).toMatch(/not valid JSON/);
    expect(msg(parseAuthRequest([]))).toMatch(/JSON object/);
    expect(msg(parseAuthRequest({ version: 4, tee: 'x', 'extra-params': '' }))).toMatch(/version must be a string/);
    expect(msg(parseAuthRequest({ version: '0.4.0', tee: 1, 'extra-params': '' }))).toMatch(/tee must be a string/);
    expect(msg(parseAuthRequest({ version: '0.4.0', tee: 'sample' }))).toMatch(/extra-params is missing/);
    expect(msg(parseAttestation({ ...valid, 'runtime-data': 'x' }))).toMatch(/runtime-data must be an object/);
    expect(msg(parseAttestation({ ...valid, 'runtime-data': { nonce: 5, 'tee-pubkey': key } }))).toMatch(/nonce must be a string/);
    expect(msg(parseAttestation({ ...valid, 'tee-evidence': { additional_evidence: '' } }))).toMatch(/primary_evidence is missing/);
    expect(msg(parseAttestation({ ...valid, 'tee-evidence': { primary_evidence: {}, additional_evidence: {} } }))).toMatch(/additional_evidence must be a string/);
    expect(msg(parseAttestation({ ...valid, 'init-data': { format: 'json', body: '{}' } }))).toMatch(/only toml/);
    expect(msg(parseAttestation({ ...valid, 'init-data': { format: 'toml', body: 'algorithm = "md5"' } }))).toMatch(/sha256, sha384 or sha512/);
  });

  it('parseTeePubKey refuses every malformed key', () => {
    const bad: [unknown, RegExp][] = [
      [null, /JSON object/],
      [{ ...key, kty: 'OKP' }, /kty must be EC or RSA/],
      [{ ...key, alg: '' }, /alg/],
      [{ ...key, crv: 'P-192' }, /crv/],
      [{ ...key, x: 'AAAA' }, /x must be 32 bytes/],
      [{ ...key, y: 'not base64url!' }, /y must be 32 bytes/],
      [{ kty: 'RSA', alg: 'RSA-OAEP-256', n: 'abc', e: 'AQAB' }, /modulus/],
      [{ kty: 'RSA', alg: 'RSA-OAEP-256', n: 'A'.repeat(342), e: '' }, /exponent/],
    ];
    for (const [v, m] of bad) expect(msg(parseTeePubKey(v))).toMatch(m);
  });
});

describe('SessionStore', () => {
  it('expires, consumes nonces once, tells replays from mismatches and stays bounded', () => {
    let t = 0;
    const s = new SessionStore({ ttlSeconds: 10, maxSessions: 3, now: () => t });
    const a = s.create('sample');
    expect(a.id).toMatch(/^[0-9a-f]{32}$/);
    expect(s.classifyNonce(a.nonce)).toBe('other-session');
    s.consume(a);
    expect(s.classifyNonce(a.nonce)).toBe('used');
    expect(s.classifyNonce('never')).toBe('unknown');
    for (let i = 0; i < 10; i++) s.create('sample');
    expect(s.size).toBeLessThanOrEqual(3);
    const b = s.create('sample');
    t += 10_000;
    expect(s.get(b.id)).toEqual({ missing: 'SessionExpired' });
    expect(s.get(undefined)).toEqual({ missing: 'NoCookie' });
    expect(s.get('f'.repeat(32))).toEqual({ missing: 'UnknownSession' });
  });
});
