// Negative tests for every parser in refvalues: checkpoints, statements, keys (incl. cosign's encrypted
// format), trusted roots, intoto bodies, and the REST client's shape checks. Bad input -> a specific
// RefValuesError reason, never another exception.
import { createHash, generateKeyPairSync, randomBytes, scryptSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { describe, expect, it } from 'vitest';
import { RekorLogState } from '../../../test/support/rekor-log/log-state.ts';
import { checkpointFromStatus, parseSignedCheckpoint, verifyCheckpoint } from './checkpoint.ts';
import { RekorClient } from './client.ts';
import { RefValuesError } from './errors.ts';
import { parseIntotoBody } from './log-entry.ts';
import { loadPublicKey, loadSigningKey } from './signing-key.ts';
import { artifactIndexHash, buildStatement, checkStatement, parseStatement } from './statement.ts';
import { parseTrustedRoot, publicGoodTrustedRoot } from './trust.ts';

const reasonOf = async (f: () => unknown): Promise<string> => {
  try {
    await f();
    return 'ok';
  } catch (e) {
    return e instanceof RefValuesError ? e.reason : `unexpected: ${String(e)}`;
  }
};

describe('checkpoints', () => {
  const log = new RekorLogState();
  log.tree.append(Buffer.from('x'));
  const trust = parseTrustedRoot(log.trustedRootJson('https://rekor.local'));
  const good = log.checkpoint();
  it('verifies a log-signed checkpoint and rejects every malformed or unsigned variant', async () => {
    expect(verifyCheckpoint(good, trust.tlogs).treeSize).toBe(1n);
    const variants = [
      '', 'no blank line', good.replace(/^[^\n]*\n/, ''), good.replace('\n1\n', '\none\n'), good.replace(/\n[A-Za-z0-9+/=]{44}\n/, '\nAAAA\n'),
      good.replace(/\u2014 [^\n]*\n$/, ''), good.replace('\u2014', '-'), good.replace('\n1\n', '\n2\n'), 'a'.repeat(70000),
    ];
    for (const v of variants) expect(await reasonOf(() => verifyCheckpoint(v, trust.tlogs)), JSON.stringify(v.slice(0, 50))).toBe('CheckpointInvalid');
    expect(await reasonOf(() => verifyCheckpoint(good, parseTrustedRoot(new RekorLogState().trustedRootJson('https://o')).tlogs))).toBe('CheckpointInvalid');
    expect(parseSignedCheckpoint(good).signatures[0]?.keyHint.toString('hex')).toBe(log.logId.slice(0, 8));
  });
  it('status round trip and bad status', async () => {
    expect(await reasonOf(() => checkpointFromStatus({ origin: 'o', treeSize: -1, rootHash: 'AA==' }))).toBe('CheckpointInvalid');
    expect(await reasonOf(() => checkpointFromStatus({ origin: 'o', treeSize: 1.5, rootHash: Buffer.alloc(32).toString('base64') }))).toBe('CheckpointInvalid');
  });
});

describe('statements', () => {
  const st = buildStatement({ artifactId: 'a', artifactVersion: '1', artifactType: 'uki', sha384: 'AB'.repeat(48) });
  it('builds the original deployment shape byte for byte', () => {
    expect(JSON.stringify(st)).toBe(
      `{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"a","digest":{"sha384":"${'ab'.repeat(48)}"}},{"name":"artifact-index-hash","digest":{"sha256":"${createHash('sha256').update('a1').digest('hex')}"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildType":"https://slsa.dev/provenance/v1","invocation":{"environment":{"artifactVersion":"1","artifactType":"uki"}},"buildConfig":{},"metadata":{},"materials":[]}}`,
    );
    expect(artifactIndexHash('cai-openclaw-vllm-prod', '202604281010')).toBe(createHash('sha256').update('cai-openclaw-vllm-prod202604281010').digest('hex'));
  });
  it('rejects malformed statements and policy mismatches with specific reasons', async () => {
    const p = { artifactId: 'a', allowedVersions: ['1'] };
    for (const bad of ['x', '[]', '{"_type":"other"}', JSON.stringify({ ...st, subject: [] }), JSON.stringify({ ...st, subject: [{ name: 1 }] }), JSON.stringify({ ...st, predicateType: 5 })]) {
      expect(await reasonOf(() => parseStatement(Buffer.from(bad))), bad).toBe('EntryMalformed');
    }
    expect(await reasonOf(() => checkStatement(st, { artifactId: 'b', allowedVersions: ['1'] }))).toBe('SubjectMismatch');
    expect(await reasonOf(() => checkStatement(st, { artifactId: 'a', allowedVersions: ['2'] }))).toBe('VersionNotAllowed');
    expect(await reasonOf(() => checkStatement({ ...st, subject: [st.subject[1]!] }, p))).toBe('SubjectMismatch');
    expect(await reasonOf(() => checkStatement({ ...st, subject: [...st.subject, st.subject[0]!] }, p))).toBe('SubjectMismatch');
    expect(await reasonOf(() => checkStatement({ ...st, subject: [{ name: 'a', digest: { sha256: 'ab' } }, st.subject[1]!] }, p))).toBe('SubjectMismatch');
    expect(await reasonOf(() => checkStatement({ ...st, predicate: { invocation: { environment: { artifactVersion: '9' } } } }, p))).toBe('SubjectMismatch');
    expect(checkStatement(st, p)).toEqual({ version: '1', sha384: 'ab'.repeat(48) });
  });
});

describe('keys', () => {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  it('reads PKCS#8, SEC1, encrypted PKCS#8 and cosign-encrypted keys; rejects others', async () => {
    const pkcs8 = kp.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const pubPem = kp.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(loadSigningKey(pkcs8).publicKeyPem).toBe(pubPem);
    expect(loadSigningKey(kp.privateKey.export({ type: 'sec1', format: 'pem' }).toString()).publicKeyPem).toBe(pubPem);
    const enc = kp.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString();
    expect(loadSigningKey(enc, 'pw').publicKeyPem).toBe(pubPem);
    expect(await reasonOf(() => loadSigningKey(enc, 'wrong'))).toBe('KeyInvalid');
    // A cosign key file made here with the documented format (scrypt N=2^15 + nacl secretbox), password 'hunter2'.
    const salt = randomBytes(32);
    const nonce = randomBytes(24);
    const der = kp.privateKey.export({ type: 'pkcs8', format: 'der' });
    const box = xsalsa20poly1305(scryptSync('hunter2', salt, 32, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }), nonce).encrypt(der);
    const json = JSON.stringify({ kdf: { name: 'scrypt', params: { N: 32768, r: 8, p: 1 }, salt: salt.toString('base64') }, cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') }, ciphertext: Buffer.from(box).toString('base64') });
    const cosign = `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from(json).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`;
    expect(loadSigningKey(cosign, 'hunter2').publicKeyPem).toBe(pubPem);
    expect(await reasonOf(() => loadSigningKey(cosign, 'hunter3'))).toBe('KeyInvalid');
    // The real cosign key from the fixtures (empty password) decrypts; a wrong password does not.
    const real = readFileSync(join(import.meta.dirname, '../../../test/fixtures/cosign/conforma-empty-password.key'), 'utf8');
    expect(loadSigningKey(real, '').publicKeyPem).toMatch(/BEGIN PUBLIC KEY/);
    expect(await reasonOf(() => loadSigningKey(real, 'x'))).toBe('KeyInvalid');
    const wrap = (o: unknown) => `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from(JSON.stringify(o)).toString('base64')}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----`;
    const base = JSON.parse(json) as { kdf: { name: string; params: { N: number } }; cipher: { name: string; nonce: string } };
    for (const bad of [
      'nothing', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGEga2V5\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----`,
      wrap({}), wrap({ ...base, kdf: { ...base.kdf, name: 'argon2' } }), wrap({ ...base, cipher: { ...base.cipher, name: 'aes' } }),
      wrap({ ...base, kdf: { ...base.kdf, params: { N: 1 << 24, r: 8, p: 1 } } }), wrap({ ...base, cipher: { ...base.cipher, nonce: 'AAAA' } }),
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ]) expect(await reasonOf(() => loadSigningKey(bad, 'hunter2')), bad.slice(0, 60)).toBe('KeyInvalid');
    expect(await reasonOf(() => loadPublicKey('x'))).toBe('KeyInvalid');
    expect(await reasonOf(() => loadPublicKey(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()))).toBe('KeyInvalid');
  });
});

describe('trusted roots', () => {
  it('reads the embedded public-good root (rekor.sigstore.dev logID)', () => {
    const t = publicGoodTrustedRoot();
    expect(t.tlogs.map((l) => l.logId.toString('hex'))).toContain('c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d');
  });
  it('rejects malformed roots, naming the field', async () => {
    const good = JSON.parse(new RekorLogState().trustedRootJson('https://x')) as { tlogs: { publicKey: { validFor: Record<string, unknown>; rawBytes: string } }[] };
    const mutate = (f: (r: typeof good) => void) => {
      const r = structuredClone(good);
      f(r);
      return JSON.stringify(r);
    };
    for (const bad of [
      'x', '[]', '{"tlogs":{}}', mutate((r) => (r.tlogs[0]!.publicKey.validFor = {})), mutate((r) => (r.tlogs[0]!.publicKey.validFor = { start: 'yesterday' })),
      mutate((r) => (r.tlogs[0]!.publicKey.validFor = { start: '2020-01-01T00:00:00Z', end: '2019-01-01T00:00:00Z' })), mutate((r) => (r.tlogs[0]!.publicKey.rawBytes = 'AAAA')),
      '{"ctlogs":[{"publicKey":{}}]}', '{"certificateAuthorities":[{}]}', '{"timestampAuthorities":[{"validFor":{"end":"2020-01-01T00:00:00Z"}}]}',
    ]) expect(await reasonOf(() => parseTrustedRoot(bad)), bad.slice(0, 80)).toBe('TrustedRootInvalid');
  });
});

describe('intoto bodies', () => {
  it('rejects other kinds and malformed bodies', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64');
    for (const bad of ['!!!', b64({ kind: 'hashedrekord', apiVersion: '0.0.1', spec: {} }), b64({ kind: 'intoto', apiVersion: '0.0.2' }),
      b64({ kind: 'intoto', apiVersion: '0.0.2', spec: { content: { envelope: { payloadType: 'x', signatures: [] } } } }),
      b64({ kind: 'intoto', apiVersion: '0.0.2', spec: { content: { envelope: { payloadType: 'x', signatures: [{ sig: 'AA==', publicKey: 'AA==' }] }, payloadHash: { algorithm: 'md5', value: 'x' } } } })]) {
      expect(await reasonOf(() => parseIntotoBody(bad)), bad.slice(0, 40)).toBe('EntryMalformed');
    }
  });
});

describe('RekorClient shape checks', () => {
  it('turns HTTP errors and unexpected JSON into LogUnavailable, retrying 5xx', async () => {
    let calls = 0;
    const srv = createServer((req, res) => {
      calls++;
      const u = req.url ?? '';
      if (u.startsWith('/api/v1/log/proof')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"hashes":[1]}');
      if (u === '/api/v1/log') return void res.writeHead(503).end('busy');
      if (u.startsWith('/api/v1/index')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"not":"array"}');
      if (u.startsWith('/api/v1/log/entries?')) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":404}');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{truncated');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const c = new RekorClient({ url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, retries: 1 });
    try {
      expect(await reasonOf(() => c.getLogInfo())).toBe('LogUnavailable');
      expect(calls).toBe(2);
      expect(await reasonOf(() => c.getConsistencyProof(1, 2))).toBe('LogUnavailable');
      expect(await reasonOf(() => c.searchIndexByHash('ab'))).toBe('LogUnavailable');
      expect(await reasonOf(() => c.getEntryByIndex(5))).toBe('LogUnavailable');
      expect(await reasonOf(() => c.retrieveEntries(['a'.repeat(64)]))).toBe('LogUnavailable');
      expect(await reasonOf(() => c.getEntryByUuid('../etc'))).toBe('EntryMalformed');
    } finally {
      srv.close();
    }
  });
});
