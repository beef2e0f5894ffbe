import { describe, expect, it } from 'vitest';
import { generateTeeKeyPair, parseTeePubKey } from '../../protocol/tee-key.ts';
import { initDataAlgorithm, jsonDepth, jsonShape, jsonSizeAtMost, KBS_LIMITS, parseAttestation, parseAuthRequest, parseJson } from './messages.ts';

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
    expect(msg(parseAttestation({ ...valid, 'tee-evidence': { primary_evidence: {}, additional_evidence: '{"a":"\udc00"}' } }))).toMatch(/additional_evidence must be well-formed Unicode/);
    expect(msg(parseAttestation({ ...valid, 'runtime-data': { nonce: '\ud800', 'tee-pubkey': key } }))).toMatch(/nonce must be well-formed Unicode/);
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
      // found by the guest fuzz: canonical JSON (the report-data hash) cannot encode a lone surrogate
      [{ ...key, alg: 'ES256\ud800' }, /alg must be well-formed Unicode/],
    ];
    for (const [v, m] of bad) expect(msg(parseTeePubKey(v))).toMatch(m);
  });
});

describe('caps on client-supplied fields (each named, checked before hashing)', () => {
  const init = (body: string, format = 'toml') => parseAttestation({ ...valid, 'init-data': { format, body } });
  it('init-data.body: 64 KiB accepted, one byte more refused, multi-byte characters counted as bytes', () => {
    expect(msg(init('\n'.repeat(KBS_LIMITS.initDataBody)))).toBe('ok');
    expect(msg(init('\n'.repeat(KBS_LIMITS.initDataBody + 1)))).toBe('init-data.body is 65537 bytes; the limit is 65536');
    expect(msg(init('é'.repeat(KBS_LIMITS.initDataBody / 2 + 1)))).toBe('init-data.body is 65538 bytes; the limit is 65536');
    expect(msg(init('\n'.repeat(4 * 1024 * 1024)))).toBe(`init-data.body is ${4 * 1024 * 1024} bytes; the limit is 65536`);
    expect(msg(init('', 'x'.repeat(17)))).toBe('init-data.format is 17 characters; the limit is 16');
  });

  it('nonce, evidence, auth fields', () => {
    expect(msg(parseAttestation({ ...valid, 'runtime-data': { nonce: 'n'.repeat(257), 'tee-pubkey': key } }))).toBe('runtime-data.nonce is 257 characters; the limit is 256');
    const big = { q: 'x'.repeat(KBS_LIMITS.primaryEvidence) };
    expect(msg(parseAttestation({ ...valid, 'tee-evidence': { primary_evidence: big, additional_evidence: '' } }))).toBe('tee-evidence.primary_evidence exceeds 1048576 characters of JSON');
    expect(msg(parseAttestation({ ...valid, 'tee-evidence': { primary_evidence: {}, additional_evidence: 'x'.repeat(KBS_LIMITS.additionalEvidence + 1) } }))).toMatch(/additional_evidence is 2097153 bytes; the limit is 2097152/);
    const deep = '['.repeat(33) + ']'.repeat(33);
    expect(msg(parseAttestation({ ...valid, 'tee-evidence': { primary_evidence: {}, additional_evidence: deep } }))).toMatch(/additional_evidence nests JSON deeper than 32 levels/);
    expect(msg(parseAuthRequest({ version: 'v'.repeat(33), tee: 'sample', 'extra-params': '' }))).toMatch(/Request\.version is 33 characters; the limit is 32/);
    expect(msg(parseAuthRequest({ version: '0.4.0', tee: 't'.repeat(33), 'extra-params': '' }))).toMatch(/Request\.tee is 33 characters/);
    expect(msg(parseAuthRequest({ version: '0.4.0', tee: 'sample', 'extra-params': 'p'.repeat(50_000) }))).toBe('Request.extra-params exceeds 49152 characters of JSON');
  });

  it('JSON nesting is capped before JSON.parse; brackets inside strings do not count', () => {
    expect(jsonDepth('{"a":[{"b":"[[[[[[["}]}', 32)).toBe(3);
    expect(jsonDepth('"\\\\"[[', 32)).toBe(2);
    expect(jsonDepth('"\\"[[', 32)).toBe(0);
    expect(jsonDepth('["\\"]"]', 32)).toBe(1);
    expect(msg(parseJson(Buffer.from('['.repeat(33) + ']'.repeat(33))))).toBe('request body nests JSON deeper than 32 levels');
    expect(msg(parseJson(Buffer.from('['.repeat(32) + ']'.repeat(32))))).toBe('ok');
    expect(msg(parseJson(Buffer.from('['.repeat(1_000_000))))).toMatch(/deeper than 32/);
    expect(msg(parseJson(Buffer.from(`[${'0,'.repeat(65_536)}0]`)))).toBe('request body has more than 65536 JSON values');
    expect(msg(parseJson(Buffer.from(`[${'0,'.repeat(65_535)}0]`)))).toBe('ok');
    expect(msg(parseJson(Buffer.from(`["${','.repeat(100_000)}"]`)))).toBe('ok');
    expect(msg(parseAttestation({ ...valid, 'tee-evidence': { primary_evidence: {}, additional_evidence: `[${'0,'.repeat(65_536)}0]` } }))).toMatch(/additional_evidence has more than 65536 JSON values/);
  });

  it('jsonShape agrees with a per-character reference scanner on 20,000 random strings of JSON punctuation', () => {
    const reference = (text: string) => {
      let depth = 0;
      let max = 0;
      let elements = 1;
      let inString = false;
      for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === ',') elements++;
        else if (c === '{' || c === '[') max = Math.max(max, ++depth);
        else if (c === '}' || c === ']') depth--;
      }
      return { depth: max, elements };
    };
    let seed = 20261204;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 1) / 0x7fffffff;
    const alphabet = ['"', '\\', '[', ']', '{', '}', ',', 'a', ' '];
    const mismatches: string[] = [];
    for (let t = 0; t < 20_000; t++) {
      const text = Array.from({ length: Math.floor(rand() * 40) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
      const [a, b] = [jsonShape(text, { depth: 1e9, elements: 1e9 }), reference(text)];
      if (a.depth !== b.depth || a.elements !== b.elements) mismatches.push(JSON.stringify(text));
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('init-data algorithm: the top-level key only, found by a line scan', () => {
    expect(initDataAlgorithm('version = "0.1.0"\n  algorithm = "sha256"\n[data]\n')).toBe('sha256');
    expect(initDataAlgorithm('version = "0.1.0"\n[data]\nalgorithm = "sha256"\n')).toBeUndefined();
    expect(initDataAlgorithm('\n'.repeat(60_000))).toBeUndefined();
    expect(initDataAlgorithm('\talgorithm="sha512"')).toBe('sha512');
    expect(initDataAlgorithm('algorithms = "sha512"')).toBeUndefined();
    const a = parseAttestation({ ...valid, 'init-data': { format: 'toml', body: '\n[data]\nalgorithm = "md5"' } });
    expect(a.ok && a.value.initData?.digest.length).toBe(48);
  });
});

describe('KBS message parsers at their limits (mutation survivors)', () => {
  it('every cap admits exactly its limit and refuses one more', () => {
    const auth = (over: object) => msg(parseAuthRequest({ version: '0.4.0', tee: 'sample', 'extra-params': '', ...over }));
    expect(auth({ version: 'v'.repeat(KBS_LIMITS.version) })).toBe('ok');
    expect(auth({ version: 'v'.repeat(KBS_LIMITS.version + 1) })).toBe('Request.version is 33 characters; the limit is 32');
    expect(auth({ tee: 't'.repeat(KBS_LIMITS.tee) })).toBe('ok');
    expect(auth({ tee: 't'.repeat(KBS_LIMITS.tee + 1) })).toBe('Request.tee is 33 characters; the limit is 32');
    // a string costs its length + 2 (quotes)
    expect(auth({ 'extra-params': 'p'.repeat(KBS_LIMITS.extraParams - 2) })).toBe('ok');
    expect(auth({ 'extra-params': 'p'.repeat(KBS_LIMITS.extraParams - 1) })).toBe('Request.extra-params exceeds 49152 characters of JSON');
    const att = (over: object) => msg(parseAttestation({ ...valid, ...over }));
    expect(att({ 'runtime-data': { nonce: 'n'.repeat(KBS_LIMITS.nonce), 'tee-pubkey': key } })).toBe('ok');
    expect(att({ 'runtime-data': { nonce: 'n'.repeat(KBS_LIMITS.nonce + 1), 'tee-pubkey': key } })).toBe('runtime-data.nonce is 257 characters; the limit is 256');
    const primary = (n: number) => ({ 'tee-evidence': { primary_evidence: 'e'.repeat(n - 2), additional_evidence: '' } });
    expect(att(primary(KBS_LIMITS.primaryEvidence))).toBe('ok');
    expect(att(primary(KBS_LIMITS.primaryEvidence + 1))).toBe('tee-evidence.primary_evidence exceeds 1048576 characters of JSON');
    const nested = (depth: number) => ({ 'tee-evidence': { primary_evidence: {}, additional_evidence: '['.repeat(depth) + ']'.repeat(depth) } });
    expect(att(nested(KBS_LIMITS.jsonDepth))).toBe('ok');
    expect(att(nested(KBS_LIMITS.jsonDepth + 1))).toBe('tee-evidence.additional_evidence nests JSON deeper than 32 levels');
    const values = (n: number) => ({ 'tee-evidence': { primary_evidence: {}, additional_evidence: `[${'0,'.repeat(n - 1)}0]` } });
    expect(att(values(KBS_LIMITS.jsonElements))).toBe('ok');
    expect(att(values(KBS_LIMITS.jsonElements + 1))).toBe('tee-evidence.additional_evidence has more than 65536 JSON values');
    const init = (format: string) => ({ 'init-data': { format, body: 'version = "0.1.0"\n' } });
    expect(att(init('toml'))).toBe('ok');
    expect(att(init('t'.repeat(KBS_LIMITS.initDataFormat)))).toBe(`init-data format ${'t'.repeat(16)} is not supported (only toml)`);
    expect(att(init('t'.repeat(KBS_LIMITS.initDataFormat + 1)))).toBe('init-data.format is 17 characters; the limit is 16');
  });

  it('refuse null and other non-objects by name instead of throwing', () => {
    expect(msg(parseAuthRequest(null))).toBe('Request must be a JSON object {version, tee, extra-params}');
    expect(msg(parseAttestation(null))).toBe('Attestation must be a JSON object');
    expect(msg(parseAttestation({ ...valid, 'runtime-data': { nonce: 'N', 'tee-pubkey': {} } }))).toMatch(/^runtime-data\.\S/);
    expect(msg(parseAttestation({ ...valid, 'tee-evidence': null }))).toBe('Attestation.tee-evidence must be an object {primary_evidence, additional_evidence}');
    expect(msg(parseAttestation({ ...valid, 'tee-evidence': { primary_evidence: null, additional_evidence: '' } }))).toBe('tee-evidence.primary_evidence is missing');
    expect(msg(parseAttestation({ ...valid, 'init-data': null }))).toBe('ok');
    for (const bad of ['x', [], { format: 1, body: '' }, { format: 'toml', body: 1 }, { format: 'toml' }, { body: '' }]) {
      expect(msg(parseAttestation({ ...valid, 'init-data': bad })), JSON.stringify(bad)).toBe('init-data must be {format, body} strings');
    }
    const ok = parseAttestation({ ...valid, 'init-data': { format: 'toml', body: '' } });
    expect(ok.ok && ok.value.initData?.format).toBe('toml');
  });

  it('jsonSizeAtMost counts strings with quotes, containers, keys and scalars, and stops past the cap', () => {
    expect(jsonSizeAtMost('abc', 100)).toBe(5);
    expect(jsonSizeAtMost([1, 22], 100)).toBe(2 + 1 + 2);
    expect(jsonSizeAtMost({ ab: 'c' }, 100)).toBe(2 + (2 + 4) + 3);
    expect(jsonSizeAtMost({ a: [null, true] }, 100)).toBe(2 + (1 + 4) + 2 + 4 + 4);
    // past the cap it stops walking: ["123456", "a"] is 13, but once 10 (= cap) is reached it keeps going only while ≤ cap
    expect(jsonSizeAtMost(['123456', 'a'], 10)).toBe(13);
    expect(jsonSizeAtMost(['1234567', 'a', 'b'], 10)).toBe(11);
  });

  it('jsonShape skips strings whatever their escapes, and jsonDepth stops one past its cap', () => {
    expect(jsonShape(String.raw`["\\", [[1]]]`, { depth: 99, elements: 99 })).toEqual({ depth: 3, elements: 2 });
    expect(jsonShape(String.raw`["\"[", [1]]`, { depth: 99, elements: 99 })).toEqual({ depth: 2, elements: 2 });
    expect(jsonShape(String.raw`["a\\\"[,{", [1]]`, { depth: 99, elements: 99 })).toEqual({ depth: 2, elements: 2 });
    expect(jsonShape(String.raw`["x", "\\\\", {"k": [1, 2]}]`, { depth: 99, elements: 99 })).toEqual({ depth: 3, elements: 4 });
    expect(jsonDepth('[[[[]]]]', 1)).toBe(2);
    expect(jsonDepth('[[[[]]]]', 9)).toBe(4);
  });

  it('initDataAlgorithm finds the key after a leading empty line', () => {
    expect(initDataAlgorithm('\nalgorithm = "sha256"\n')).toBe('sha256');
    expect(initDataAlgorithm('version = "0.1.0"\n\n  algorithm="sha512"')).toBe('sha512');
  });
});
