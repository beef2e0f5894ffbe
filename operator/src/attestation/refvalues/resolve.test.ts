// publish -> fetch -> verify through the local Rekor-v1-compatible test log over HTTP, then a forked
// history that must be detected; the bundle (offline) and inline sources; foreign entries.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRekorServer } from '../../../test/support/rekor-log/server.ts';
import { RekorClient } from './client.ts';
import { intotoProposal, publishReferenceValues } from './publish.ts';
import { resolveReferenceValues, type CheckpointStatus, type ReferenceValuesSpec, type ResolveDeps } from './resolve.ts';
import { loadSigningKey, type SigningKey } from './signing-key.ts';
import { parseTrustedRoot, type TrustedRootMaterial } from './trust.ts';

const ID = 'cai-openclaw-vllm-prod';
const V1 = '202604281010';
const V2 = '202605011200';
const UKI1 = '11'.repeat(48);
const UKI2 = '22'.repeat(48);
const NOW = new Date('2026-11-21T12:00:00Z');
const pemKey = (): SigningKey => loadSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());

const server = new TestRekorServer();
let trust: TrustedRootMaterial;
let client: RekorClient;
const key = pemKey();
const configMaps = new Map<string, string>();
const deps: ResolveDeps = {
  rekorClient: (url) => new RekorClient({ url, retries: 0 }),
  readConfigMap: async (name, k) => configMaps.get(`${name}/${k}`),
};
const rekorSpec = (over: Partial<NonNullable<ReferenceValuesSpec['rekor']>> = {}): ReferenceValuesSpec => ({
  rekor: { url: server.url, trustedRootRef: { name: 'roots', key: 'trusted_root.json' }, publicKey: key.publicKeyPem, artifactId: ID, allowedVersions: [V1], refreshIntervalSeconds: 3600, ...over },
});
const publish = (version: string, sha384: string, signingKey = key, artifactId = ID) =>
  publishReferenceValues({ sha384, artifactId, artifactVersion: version, signingKey, client, trust, at: NOW });

beforeAll(async () => {
  server.log.now = () => Math.floor(NOW.getTime() / 1000) - 600;
  await server.start();
  trust = parseTrustedRoot(server.trustedRootJson());
  configMaps.set('roots/trusted_root.json', server.trustedRootJson());
  client = new RekorClient({ url: server.url, retries: 0 });
});
afterAll(() => server.stop());

describe('publish -> resolve through the test log', () => {
  let checkpoint: CheckpointStatus | undefined;
  let firstBundle = '';

  it('publishes: uploads an intoto entry and returns the original .rekor-meta.json and a bundle', async () => {
    for (let i = 0; i < 3; i++) await publish('1', '99'.repeat(48), key, `unrelated-${i}`);
    const r = await publish(V1, UKI1);
    expect(r.rekorMeta).toEqual({ artifact_id: ID, artifact_version: V1, artifact_type: 'uki', rekor_url: server.url, rv_name: 'measurement.uki.SHA-384' });
    expect(Object.keys(r.rekorMeta)).toEqual(['artifact_id', 'artifact_version', 'artifact_type', 'rekor_url', 'rv_name']);
    expect(r.referenceValues).toEqual({ 'measurement.uki.SHA-384': [UKI1] });
    expect(r.verified.logIndex).toBe(1003);
    expect(server.requests).toContain('POST /api/v1/log/entries');
    firstBundle = JSON.stringify(r.bundle);
    // Uploading the same proposal again is a 409 in Rekor; the client then reads the existing entry.
    const again = await client.createEntry(intotoProposal(r.envelope, key.publicKeyPem));
    expect(again.uuid).toBe(r.entry.uuid);
    expect((await client.createEntry({ kind: 'intoto' }).catch((e: Error) => e.message))).toMatch(/HTTP 400/);
  });

  it('resolves the published value with its log index and the signed checkpoint', async () => {
    const r = await resolveReferenceValues(rekorSpec(), deps, undefined, NOW);
    expect(r).toEqual({ ok: true, values: [{ name: 'measurement.uki.SHA-384', digest: UKI1, version: V1, logIndex: 1003 }], checkpoint: expect.objectContaining({ treeSize: 4 }) });
    if (r.ok) checkpoint = r.checkpoint;
    expect(server.requests.some((q) => q.startsWith('POST /api/v1/index/retrieve'))).toBe(true);
  });

  it('after more entries, proves consistency from the last verified checkpoint', async () => {
    await publish(V2, UKI2);
    for (let i = 0; i < 4; i++) await publish('1', '98'.repeat(48), key, `noise-${i}`);
    server.requests.length = 0;
    const r = await resolveReferenceValues(rekorSpec({ allowedVersions: [V1, V2] }), deps, checkpoint, NOW);
    expect(r.ok && r.values.map((v) => [v.version, v.digest])).toEqual([[V1, UKI1], [V2, UKI2]]);
    expect(r.ok && r.checkpoint?.treeSize).toBe(9);
    expect(server.requests).toContain('GET /api/v1/log/proof?firstSize=4&lastSize=9');
    if (r.ok) checkpoint = r.checkpoint;
  });

  it('detects a forked history: LogInconsistent', async () => {
    const honest = checkpoint;
    server.log.fork(2, Buffer.from('{"rewritten":"history"}'));
    await publish('1', '97'.repeat(48), key, 'after-fork');
    const r = await resolveReferenceValues(rekorSpec({ allowedVersions: [V1, V2] }), deps, honest, NOW);
    expect(r).toMatchObject({ ok: false, reason: 'LogInconsistent', message: expect.stringMatching(/forked log/) });
    // Without the remembered checkpoint the fork is invisible: that is why the status keeps it.
    expect((await resolveReferenceValues(rekorSpec(), deps, undefined, NOW)).ok).toBe(true);
    // A previous checkpoint from a different tree is refused too.
    const other = await resolveReferenceValues(rekorSpec(), deps, { ...honest!, origin: 'elsewhere - 1' }, NOW);
    expect(other).toMatchObject({ ok: false, reason: 'LogInconsistent' });
  });

  it('offline: verifies the published .sigstore.json bundle from a ConfigMap', async () => {
    configMaps.set('rv/bundle.json', firstBundle);
    const spec: ReferenceValuesSpec = { bundle: { configMapRef: { name: 'rv', key: 'bundle.json' }, trustedRootRef: { name: 'roots', key: 'trusted_root.json' }, publicKey: key.publicKeyPem, artifactId: ID, allowedVersions: [V1] } };
    expect(await resolveReferenceValues(spec, deps, undefined, NOW)).toEqual({ ok: true, values: [{ name: 'measurement.uki.SHA-384', digest: UKI1, version: V1, logIndex: 1003 }] });
    const b = JSON.parse(firstBundle) as { verificationMaterial: { tlogEntries: { inclusionPromise: { signedEntryTimestamp: string } }[] } };
    const set = Buffer.from(b.verificationMaterial.tlogEntries[0]!.inclusionPromise.signedEntryTimestamp, 'base64');
    set.writeUInt8(set.readUInt8(12) ^ 1, 12);
    b.verificationMaterial.tlogEntries[0]!.inclusionPromise.signedEntryTimestamp = set.toString('base64');
    configMaps.set('rv/bundle.json', JSON.stringify(b));
    expect(await resolveReferenceValues(spec, deps, undefined, NOW)).toMatchObject({ ok: false, reason: 'SetInvalid' });
    expect(await resolveReferenceValues({ bundle: { ...spec.bundle!, allowedVersions: [V2] } }, deps, undefined, NOW)).toMatchObject({ ok: false });
    expect(await resolveReferenceValues({ bundle: { ...spec.bundle!, configMapRef: { name: 'none', key: 'x' } } }, deps, undefined, NOW)).toMatchObject({ ok: false, reason: 'ConfigMapMissing' });
  });

  it('skips entries signed by someone else under the same index hash, and fails when only those exist', async () => {
    const intruder = pemKey();
    const V3 = '202607010000';
    await publish(V3, '33'.repeat(48), intruder);
    expect(await resolveReferenceValues(rekorSpec({ allowedVersions: [V3] }), deps, undefined, NOW)).toMatchObject({ ok: false, reason: 'SignatureInvalid' });
    await publish(V3, '44'.repeat(48));
    const r = await resolveReferenceValues(rekorSpec({ allowedVersions: [V3] }), deps, undefined, NOW);
    expect(r.ok && r.values.map((v) => v.digest)).toEqual(['44'.repeat(48)]);
  });

  it('reports NoReferenceValues, KeyInvalid, TrustedRootInvalid and LogUnavailable precisely', async () => {
    expect(await resolveReferenceValues(rekorSpec({ allowedVersions: ['never-published'] }), deps, undefined, NOW)).toMatchObject({ ok: false, reason: 'NoReferenceValues' });
    expect(await resolveReferenceValues(rekorSpec({ publicKey: 'not a key' }), deps, undefined, NOW)).toMatchObject({ ok: false, reason: 'KeyInvalid' });
    configMaps.set('bad/root', '{"tlogs":[{"baseUrl":"x","publicKey":{"rawBytes":"AA==","keyDetails":"x"},"logId":{"keyId":"AA=="}}]}');
    expect(await resolveReferenceValues(rekorSpec({ trustedRootRef: { name: 'bad', key: 'root' } }), deps, undefined, NOW)).toMatchObject({ ok: false, reason: 'TrustedRootInvalid' });
    expect(await resolveReferenceValues(rekorSpec({ url: 'http://127.0.0.1:1' }), deps, undefined, NOW)).toMatchObject({ ok: false, reason: 'LogUnavailable' });
    // The public-good root does not know the test log's key.
    expect(await resolveReferenceValues(rekorSpec({ trustedRootRef: undefined }), deps, undefined, NOW)).toMatchObject({ ok: false, reason: 'LogKeyUnknown' });
  });

  it('publishes with a cosign-encrypted key (cosign generate-key-pair format)', async () => {
    const cosignKey = loadSigningKey(readFileSync(join(import.meta.dirname, '../../../test/fixtures/cosign/conforma-empty-password.key'), 'utf8'), '');
    const r = await publish('202608010000', '55'.repeat(48), cosignKey);
    expect(r.verified.sha384).toBe('55'.repeat(48));
  });
});

/** A Rekor test server of its own (its trusted root in ConfigMap `<root>/trusted_root.json`), stopped afterwards. */
async function withOwnLog(root: string, fn: (srv: TestRekorServer, c: RekorClient, t: ReturnType<typeof parseTrustedRoot>) => Promise<void>): Promise<void> {
  const srv = new TestRekorServer();
  srv.log.now = server.log.now;
  await srv.start();
  try {
    configMaps.set(`${root}/trusted_root.json`, srv.trustedRootJson());
    await fn(srv, new RekorClient({ url: srv.url, retries: 0 }), parseTrustedRoot(srv.trustedRootJson()));
  } finally {
    await srv.stop();
  }
}

describe('a Rekor v1 shard rotation', () => {
  it('proves the last checkpoint against the frozen shard (by treeID), then detects a rewrite of that shard', async () => {
    await withOwnLog('roots2', async (srv, c, t) => {
      const spec = (versions: string[]): ReferenceValuesSpec => ({ rekor: { ...rekorSpec().rekor!, url: srv.url, trustedRootRef: { name: 'roots2', key: 'trusted_root.json' }, allowedVersions: versions } });
      const pub = (v: string, d: string, id = ID) => publishReferenceValues({ sha384: d, artifactId: id, artifactVersion: v, signingKey: key, client: c, trust: t, at: NOW });
      await pub(V1, UKI1);
      const first = await resolveReferenceValues(spec([V1]), deps, undefined, NOW);
      expect(first.ok).toBe(true);
      const previous = first.ok ? first.checkpoint : undefined;
      await pub('1', '77'.repeat(48), 'more');
      const frozenTree = srv.log.treeId;
      srv.rotate();
      await pub(V2, UKI2);
      srv.requests.length = 0;
      const after = await resolveReferenceValues(spec([V1, V2]), deps, previous, NOW);
      expect(after.ok && after.values.map((v) => [v.version, v.logIndex])).toEqual([[V1, 1000], [V2, 1002]]);
      expect(after.ok && after.checkpoint?.origin).toBe(srv.log.origin);
      expect(srv.requests).toContain(`GET /api/v1/log/proof?firstSize=1&lastSize=2&treeID=${frozenTree}`);
      srv.inactive[0]!.fork(0, Buffer.from('rewritten'));
      expect(await resolveReferenceValues(spec([V2]), deps, previous, NOW)).toMatchObject({ ok: false, reason: 'LogInconsistent' });
    });
  });
});

describe('a log that shows a smaller tree than the last verified checkpoint', () => {
  it('is LogInconsistent (a transparency log only grows), whether the smaller tree is a rewrite or a genuine prefix', async () => {
    await withOwnLog('roots3', async (srv, c, t) => {
      const spec: ReferenceValuesSpec = { rekor: { ...rekorSpec().rekor!, url: srv.url, trustedRootRef: { name: 'roots3', key: 'trusted_root.json' } } };
      await publishReferenceValues({ sha384: UKI1, artifactId: ID, artifactVersion: V1, signingKey: key, client: c, trust: t, at: NOW });
      for (let i = 0; i < 4; i++) await publishReferenceValues({ sha384: '66'.repeat(48), artifactId: `filler-${i}`, artifactVersion: '1', signingKey: key, client: c, trust: t, at: NOW });
      const honest = srv.log;
      const first = await resolveReferenceValues(spec, deps, undefined, NOW);
      expect(first.ok && first.checkpoint?.treeSize).toBe(5);
      const previous = first.ok ? first.checkpoint : undefined;
      // A shorter tree with a rewritten leaf: its signed head (size 3) cannot be proven to extend size 5.
      const forked = honest.copy(3);
      forked.fork(2, Buffer.from('{"rewritten":"shorter history"}'));
      srv.log = forked;
      const r = await resolveReferenceValues(spec, deps, previous, NOW);
      expect(r).toMatchObject({ ok: false, reason: 'LogInconsistent', message: expect.stringMatching(/size 3.*smaller than.*size 5/) });
      // A genuine prefix is a rolled-back view: refused the same way, before any proof is asked for.
      srv.log = honest.copy(3);
      srv.requests.length = 0;
      expect(await resolveReferenceValues(spec, deps, previous, NOW)).toMatchObject({ ok: false, reason: 'LogInconsistent' });
      expect(srv.requests.some((q) => q.startsWith('GET /api/v1/log/proof'))).toBe(false);
      // The honest log again: resolves, and the checkpoint stays the one verified before.
      srv.log = honest;
      const back = await resolveReferenceValues(spec, deps, previous, NOW);
      expect(back.ok && back.checkpoint).toEqual(previous);
    });
  });
});

describe('inline reference values', () => {
  it('pass straight through, lower-cased, with their measurement names', async () => {
    const r = await resolveReferenceValues({ inline: { mrtd: ['AA'.repeat(48)], ukiSha384: ['bb'.repeat(48)] } }, deps, undefined, NOW);
    expect(r).toEqual({ ok: true, values: [{ name: 'mr_td', digest: 'aa'.repeat(48) }, { name: 'measurement.uki.SHA-384', digest: 'bb'.repeat(48) }] });
  });
});
