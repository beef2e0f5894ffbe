// dsse 0.0.1 and hashedrekord 0.0.1 entries (what cosign v3 attest-blob / sign-blob upload to Rekor v1),
// proposed in the exact shapes cosign sends, through the test log over HTTP: resolution with statements from
// a ConfigMap, each failure with its reason, and the test log refusing what Rekor v1 refuses.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRekorServer } from '../../../test/support/rekor-log/server.ts';
import { RekorClient } from './client.ts';
import { signEnvelope, IN_TOTO_PAYLOAD_TYPE } from './dsse.ts';
import { resolveReferenceValues, statementsFrom, type ReferenceValuesSpec, type ResolveDeps } from './resolve.ts';
import { loadSigningKey, type SigningKey } from './signing-key.ts';
import { buildStatement } from './statement.ts';
import { parseTrustedRoot } from './trust.ts';
import { verifyRekorEntry } from './verify-entry.ts';

const ID = 'cai-uki';
const NOW = new Date('2026-12-01T12:00:00Z');
const newKey = (): SigningKey => loadSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const statementBytes = (version: string, uki: string) => Buffer.from(JSON.stringify(buildStatement({ artifactId: ID, artifactVersion: version, artifactType: 'uki', sha384: uki })));

/** sigstore-go's Rekor v1 dsse proposal: the envelope as a JSON string, the verifier as base64 PEM. */
function dsseProposal(statement: Buffer, key: SigningKey): { proposal: unknown; envelopeJson: string } {
  const env = signEnvelope(IN_TOTO_PAYLOAD_TYPE, statement, key.privateKey);
  const envelopeJson = JSON.stringify({ payload: env.payload, payloadType: env.payloadType, signatures: [{ sig: env.signatures[0]?.sig }] });
  return { proposal: { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: envelopeJson, verifiers: [b64(key.publicKeyPem)] } } }, envelopeJson };
}
/** cosign sign-blob's hashedrekord proposal: sha256 of the blob, ECDSA over it, base64 PEM key. */
const hashedRekordProposal = (blob: Buffer, key: SigningKey, signer = key) => ({
  apiVersion: '0.0.1',
  kind: 'hashedrekord',
  spec: { data: { hash: { algorithm: 'sha256', value: sha256(blob) } }, signature: { content: b64(sign('sha256', blob, signer.privateKey)), publicKey: { content: b64(key.publicKeyPem) } } },
});

const server = new TestRekorServer();
const key = newKey();
let client: RekorClient;
const configMaps = new Map<string, Record<string, string>>();
const deps: ResolveDeps = {
  rekorClient: (url) => new RekorClient({ url, retries: 0 }),
  readConfigMap: async (name, k) => configMaps.get(name)?.[k],
  readConfigMapData: async (name) => configMaps.get(name),
};
const spec = (versions: string[], statements?: string): ReferenceValuesSpec => ({
  rekor: {
    url: server.url,
    trustedRootRef: { name: 'roots', key: 'trusted_root.json' },
    publicKey: key.publicKeyPem,
    artifactId: ID,
    allowedVersions: versions,
    refreshIntervalSeconds: 3600,
    ...(statements ? { statementsConfigMapRef: { name: statements } } : {}),
  },
});
const post = async (path: string, body: unknown) => {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as unknown };
};

const DSSE = { version: '1.0', uki: 'd5'.repeat(48) };
const HR = { version: '2.0', uki: 'a7'.repeat(48) };
let dsseEnvelope = '';
let hrProposal: unknown;

beforeAll(async () => {
  server.log.now = () => Math.floor(NOW.getTime() / 1000) - 600;
  await server.start();
  client = new RekorClient({ url: server.url, retries: 0 });
  configMaps.set('roots', { 'trusted_root.json': server.trustedRootJson() });
  const d = dsseProposal(statementBytes(DSSE.version, DSSE.uki), key);
  dsseEnvelope = d.envelopeJson;
  await client.createEntry(d.proposal);
  hrProposal = hashedRekordProposal(statementBytes(HR.version, HR.uki), key);
  await client.createEntry(hrProposal);
  // A bundle-shaped value (as cosign attest-blob --bundle writes) and a plain statement file.
  configMaps.set('statements', {
    'attest.sigstore.json': JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', dsseEnvelope: JSON.parse(dsseEnvelope) as unknown }),
    'signed.json': statementBytes(HR.version, HR.uki).toString('utf8'),
  });
});
afterAll(() => server.stop());

describe('dsse and hashedrekord reference-value entries', () => {
  it('stores Rekor-canonical bodies without the statement (no attestation)', () => {
    const bodies = server.log.entries.map((e) => JSON.parse(e.body.toString('utf8')) as { kind: string; spec: Record<string, unknown> });
    expect(bodies.map((b) => b.kind)).toEqual(['dsse', 'hashedrekord']);
    expect(Object.keys(bodies[0]?.spec ?? {})).toEqual(['envelopeHash', 'payloadHash', 'signatures']);
    expect((bodies[0]?.spec['envelopeHash'] as { value: string }).value).toBe(sha256(dsseEnvelope));
    expect(server.log.entries.every((e) => e.attestation === undefined)).toBe(true);
  });

  it('resolves both with the statements supplied (found by index hash and by statement hash)', async () => {
    const r = await resolveReferenceValues(spec([DSSE.version, HR.version], 'statements'), deps, undefined, NOW);
    expect(r).toMatchObject({ ok: true, values: [{ digest: DSSE.uki, version: DSSE.version, logIndex: 1000 }, { digest: HR.uki, version: HR.version, logIndex: 1001 }] });
  });

  it('without the statements: StatementUnavailable (the log does not store them)', async () => {
    const r = await resolveReferenceValues(spec([DSSE.version]), deps, undefined, NOW);
    expect(r).toMatchObject({ ok: false, reason: 'StatementUnavailable' });
  });

  it('a missing statements ConfigMap is ConfigMapMissing', async () => {
    expect(await resolveReferenceValues(spec([DSSE.version], 'nope'), deps, undefined, NOW)).toMatchObject({ ok: false, reason: 'ConfigMapMissing' });
  });

  it('pins the builder key: the same entries under another policy key are SignatureInvalid', async () => {
    const other = newKey();
    const s = spec([DSSE.version, HR.version], 'statements');
    const r = await resolveReferenceValues({ rekor: { ...s.rekor!, publicKey: other.publicKeyPem } }, deps, undefined, NOW);
    expect(r).toMatchObject({ ok: false, reason: 'SignatureInvalid' });
  });

  it('a supplied statement that differs from the logged one by a byte is not used', async () => {
    const entries = await client.retrieveEntries(server.log.entries.map((e) => e.uuid));
    const trust = parseTrustedRoot(server.trustedRootJson());
    const policy = { publicKey: key.publicKey, artifactId: ID, allowedVersions: [DSSE.version, HR.version] };
    const forged = new Map([statementBytes(DSSE.version, 'ee'.repeat(48)), statementBytes(HR.version, 'ee'.repeat(48))].map((b) => [sha256(b), b] as const));
    for (const e of entries) expect(() => verifyRekorEntry(e, trust, policy, NOW, forged)).toThrow(expect.objectContaining({ reason: 'StatementUnavailable' }));
    const real = statementsFrom(configMaps.get('statements') ?? {});
    expect(entries.map((e) => verifyRekorEntry(e, trust, policy, NOW, real).sha384)).toEqual([DSSE.uki, HR.uki]);
  });

  it('statementsFrom reads bundles, bare envelopes and files, and ignores junk', () => {
    const st = statementBytes('9', '99'.repeat(48));
    const env = { payload: b64(st), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [] };
    const m = statementsFrom({ a: JSON.stringify({ dsseEnvelope: env }), b: JSON.stringify(env), c: '{not json', d: 'plain' });
    expect(m.get(sha256(st))?.equals(st)).toBe(true);
    expect(m.has(sha256('plain'))).toBe(true);
    expect(m.has(sha256('{not json'))).toBe(true);
  });
});

describe('the test log refuses what Rekor v1 refuses, and searches as Rekor does', () => {
  it('rejects a sha384: hash search with 422 (openapi SearchIndex pattern), accepts sha256/bare/sha1/sha512', async () => {
    expect((await post('/api/v1/index/retrieve', { hash: `sha384:${'ab'.repeat(48)}` })).status).toBe(422);
    expect((await post('/api/v1/index/retrieve', { hash: 'sha256:abc' })).status).toBe(422);
    expect((await post('/api/v1/index/retrieve', { hash: `md5:${'ab'.repeat(16)}` })).status).toBe(422);
    for (const hash of [`sha1:${'ab'.repeat(20)}`, `sha512:${'ab'.repeat(64)}`, 'AB'.repeat(32)]) {
      expect(await post('/api/v1/index/retrieve', { hash })).toEqual({ status: 200, json: [] });
    }
    const bare = await post('/api/v1/index/retrieve', { hash: sha256(statementBytes(HR.version, HR.uki)) });
    expect(bare.json).toEqual([server.log.entries[1]?.uuid]);
  });

  it('searches by x509 public key (bare-hex key hash: Rekor finds hashedrekord entries that way, not dsse)', async () => {
    const uuids = await client.searchIndexByPublicKey(key.publicKeyPem);
    expect(uuids).toEqual([server.log.entries[1]?.uuid]);
    expect(await client.searchIndexByPublicKey(newKey().publicKeyPem)).toEqual([]);
    expect((await post('/api/v1/index/retrieve', { publicKey: { format: 'x509', content: b64('not a key') } })).status).toBe(400);
    expect((await post('/api/v1/index/retrieve', { publicKey: { format: 'rsa', content: '' } })).status).toBe(422);
  });

  it('intersects with operator "and"', async () => {
    const hash = `sha256:${sha256(statementBytes(HR.version, HR.uki))}`;
    const publicKey = { format: 'x509', content: b64(key.publicKeyPem) };
    expect((await post('/api/v1/index/retrieve', { hash, publicKey, operator: 'and' })).json).toEqual([server.log.entries[1]?.uuid]);
    expect((await post('/api/v1/index/retrieve', { hash: `sha256:${'00'.repeat(32)}`, publicKey, operator: 'and' })).json).toEqual([]);
    expect((await post('/api/v1/index/retrieve', { hash, operator: 'xor' })).status).toBe(422);
  });

  it('rejects malformed entryUUIDs and more than 10 of them (422)', async () => {
    expect((await post('/api/v1/log/entries/retrieve', { entryUUIDs: ['xyz'] })).status).toBe(422);
    expect((await post('/api/v1/log/entries/retrieve', { entryUUIDs: Array.from({ length: 11 }, () => 'ab'.repeat(32)) })).status).toBe(422);
  });

  it('refuses a dsse envelope not signed by its verifier and a hashedrekord signature over another digest (400)', async () => {
    const other = newKey();
    const st = statementBytes('3', '33'.repeat(48));
    const d = dsseProposal(st, other);
    const spec = (d.proposal as { spec: { proposedContent: { verifiers: string[] } } }).spec;
    spec.proposedContent.verifiers = [b64(key.publicKeyPem)];
    expect((await post('/api/v1/log/entries', d.proposal)).status).toBe(400);
    expect((await post('/api/v1/log/entries', hashedRekordProposal(st, key, other))).status).toBe(400);
    expect((await post('/api/v1/log/entries', { apiVersion: '0.0.1', kind: 'rekord', spec: {} })).status).toBe(400);
  });

  it('answers 409 with the existing entry for a duplicate hashedrekord (same signature bytes)', async () => {
    expect((await post('/api/v1/log/entries', hrProposal)).status).toBe(409);
    const again = await client.createEntry(hrProposal);
    expect(again.uuid).toBe(server.log.entries[1]?.uuid);
  });
});
