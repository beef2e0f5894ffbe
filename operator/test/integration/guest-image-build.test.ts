// `make guest-image PROFILE=dev` twice from the same inputs gives a byte-identical UKI (and disk), and
// `cai refvalues publish --uki` publishes exactly the Authenticode SHA-384 the builder recorded.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.ts';
import { authenticodeDigest } from '../../src/attestation/pe/authenticode.ts';
import { TestRekorServer } from '../support/rekor-log/server.ts';
import { buildDev } from '../support/guest-image.ts';

const rekor = new TestRekorServer();
const dir = mkdtempSync(join(tmpdir(), 'cai-image-build-'));
beforeAll(() => rekor.start());
afterAll(async () => {
  await rekor.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('guest image build (dev profile)', () => {
  it('builds twice from the same inputs into byte-identical UKIs and disks; a changed cmdline changes the UKI digest', async () => {
    const a = await buildDev(join(dir, 'a'), { cacheDir: join(dir, 'cache-a') });
    const b = await buildDev(join(dir, 'b'), { cacheDir: join(dir, 'cache-b') });
    expect(a.cached).toBe(false);
    expect(b.cached).toBe(false);
    expect(readFileSync(a.files.uki).equals(readFileSync(b.files.uki))).toBe(true);
    expect(readFileSync(a.files.qcow2).equals(readFileSync(b.files.qcow2))).toBe(true);
    expect(a.ukiSha384).toBe(authenticodeDigest(readFileSync(b.files.uki), 'sha384'));
    expect(a.cmdline).toContain(`cai.verity=${a.verityRootHash}`);
    const manifest = JSON.parse(readFileSync(a.files.manifest, 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ name: 'cai-dev', measurements: { 'measurement.uki.SHA-384': a.ukiSha384 } });
    expect(JSON.stringify(manifest)).not.toMatch(/PRIVATE KEY|passphrase"\s*:/);
    // Same inputs again: served from the cache keyed by the inputs.
    const again = await buildDev(join(dir, 'c'), { cacheDir: join(dir, 'cache-a') });
    expect(again).toMatchObject({ cached: true, ukiSha384: a.ukiSha384, cacheKey: a.cacheKey });
    const tampered = await buildDev(join(dir, 'd'), { cacheDir: join(dir, 'cache-a'), cmdlineAppend: ['cai.debug=1'] });
    expect(tampered.verityRootHash).toBe(a.verityRootHash);
    expect(tampered.ukiSha384).not.toBe(a.ukiSha384);
  });

  it('cai refvalues publish --uki publishes the digest the builder computed, with .rekor-meta.json and .sigstore.json', async () => {
    const a = await buildDev(join(dir, 'a'), { cacheDir: join(dir, 'cache-a') });
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'cosign.key'), kp.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'trusted_root.json'), rekor.trustedRootJson());
    let err = '';
    mkdirSync(join(dir, 'pub'), { recursive: true });
    const prefix = join(dir, 'pub', 'cai-dev');
    const code = await runCli(['refvalues', 'publish', '--uki', a.files.uki, '--artifact-id', 'cai-dev', '--artifact-version', '1', '--key', join(dir, 'cosign.key'),
      '--rekor-url', rekor.url, '--trusted-root', join(dir, 'trusted_root.json'), '--output-prefix', prefix],
    { stdout: () => undefined, stderr: (t) => void (err += t), readStdin: async () => Buffer.alloc(0), env: { COSIGN_PASSWORD: '' } });
    expect(code, err).toBe(0);
    expect(JSON.parse(readFileSync(`${prefix}.json`, 'utf8'))).toEqual({ 'measurement.uki.SHA-384': [a.ukiSha384] });
    expect(JSON.parse(readFileSync(a.files.referenceValues, 'utf8'))).toEqual({ 'measurement.uki.SHA-384': [a.ukiSha384] });
    expect(JSON.parse(readFileSync(`${prefix}.rekor-meta.json`, 'utf8'))).toMatchObject({ artifact_id: 'cai-dev', rv_name: 'measurement.uki.SHA-384' });
    expect(readFileSync(`${prefix}.sigstore.json`, 'utf8')).toContain('"mediaType"');
  });
});
