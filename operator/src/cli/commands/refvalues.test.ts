// `cai refvalues publish|verify|digest` end to end against the local test log, with a real signed EFI
// binary standing in for the UKI (it is a PE image like a UKI).
import { createHash, generateKeyPairSync } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRekorServer } from '../../../test/support/rekor-log/server.ts';
import { runCli } from '../main.ts';

const PE = '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed';
const server = new TestRekorServer();
const dir = mkdtempSync(join(tmpdir(), 'cai-refvalues-'));
const f = (name: string) => join(dir, name);

async function cai(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t), readStdin: async () => Buffer.alloc(0), env: { COSIGN_PASSWORD: '' } };
  return { code: await runCli(args, io), out, err };
}

beforeAll(async () => {
  await server.start();
  writeFileSync(f('trusted_root.json'), server.trustedRootJson());
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(f('cosign.key'), kp.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(f('cosign.pub'), kp.publicKey.export({ type: 'spki', format: 'pem' }));
});
afterAll(() => server.stop());

describe('cai refvalues', () => {
  it('digest prints the Authenticode SHA-384 of a PE file', async () => {
    const r = await cai('refvalues', 'digest', PE);
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim()).toMatch(/^[0-9a-f]{96}$/);
  });

  it('publish writes .rekor-meta.json, .sigstore.json and the reference-value file; verify reads them back', async () => {
    const digest = (await cai('refvalues', 'digest', PE)).out.trim();
    const pub = await cai('refvalues', 'publish', '--uki', PE, '--artifact-id', 'cai-mcp-server-prod', '--artifact-version', '202611211200',
      '--key', f('cosign.key'), '--rekor-url', server.url, '--trusted-root', f('trusted_root.json'), '--output-prefix', f('final-prod'));
    expect(pub.code, pub.err).toBe(0);
    expect(pub.out).toMatch(/^Created entry at index 1000, available at: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/log\/entries\/[0-9a-f]{80}\n/);
    expect(JSON.parse(readFileSync(f('final-prod.rekor-meta.json'), 'utf8'))).toEqual({
      artifact_id: 'cai-mcp-server-prod', artifact_version: '202611211200', artifact_type: 'uki', rekor_url: server.url, rv_name: 'measurement.uki.SHA-384',
    });
    expect(JSON.parse(readFileSync(f('final-prod.json'), 'utf8'))).toEqual({ 'measurement.uki.SHA-384': [digest] });

    const common = ['--artifact-id', 'cai-mcp-server-prod', '--version', '202611211200', '--public-key', f('cosign.pub'), '--trusted-root', f('trusted_root.json')];
    const online = await cai('refvalues', 'verify', ...common, '--rekor-url', server.url, '--checkpoint', f('checkpoint.json'));
    expect(online.code, online.err).toBe(0);
    expect(JSON.parse(online.out).values).toEqual([{ name: 'measurement.uki.SHA-384', digest, version: '202611211200', logIndex: 1000 }]);
    expect(JSON.parse(readFileSync(f('checkpoint.json'), 'utf8'))).toMatchObject({ treeSize: 1 });
    const offline = await cai('refvalues', 'verify', ...common, '--bundle', f('final-prod.sigstore.json'));
    expect(offline.code, offline.err).toBe(0);

    // The bundle is a standard Sigstore bundle: the conformance-protocol verifier accepts it with the pinned
    // key, given the digest of one of its in-toto subjects (the artifact-index-hash).
    const indexHash = createHash('sha256').update('cai-mcp-server-prod202611211200').digest('hex');
    const sj = await cai('sigstore', 'verify-bundle', '--bundle', f('final-prod.sigstore.json'), '--key', f('cosign.pub'),
      '--trusted-root', f('trusted_root.json'), `sha256:${indexHash}`);
    expect(sj.code, sj.err).toBe(0);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
    writeFileSync(f('other.pub'), other);
    expect((await cai('sigstore', 'verify-bundle', '--bundle', f('final-prod.sigstore.json'), '--key', f('other.pub'),
      '--trusted-root', f('trusted_root.json'), `sha256:${indexHash}`)).code).toBe(1);

    // Same files, wrong version: refused with a reason.
    const wrong = await cai('refvalues', 'verify', '--artifact-id', 'cai-mcp-server-prod', '--version', '1', '--public-key', f('cosign.pub'),
      '--trusted-root', f('trusted_root.json'), '--bundle', f('final-prod.sigstore.json'));
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/^FAIL (SubjectMismatch|VersionNotAllowed): /);
  });

  it('publish also accepts the cryptpilot reference-value JSON, and rejects malformed input', async () => {
    writeFileSync(f('rv.json'), JSON.stringify({ 'measurement.uki.SHA-384': ['ab'.repeat(48)] }));
    const ok = await cai('refvalues', 'publish', '--reference-values', f('rv.json'), '--artifact-id', 'x', '--artifact-version', '1',
      '--key', f('cosign.key'), '--rekor-url', server.url, '--trusted-root', f('trusted_root.json'), '--output-prefix', f('rv'));
    expect(ok.code, ok.err).toBe(0);
    writeFileSync(f('bad-rv.json'), JSON.stringify({ 'measurement.uki.SHA-256': ['ab'] }));
    const bad = await cai('refvalues', 'publish', '--reference-values', f('bad-rv.json'), '--artifact-id', 'x', '--artifact-version', '1',
      '--key', f('cosign.key'), '--rekor-url', server.url);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^FAIL EntryMalformed/);
    expect((await cai('refvalues', 'digest', f('rv.json'))).err).toMatch(/^FAIL NotPe/);
    expect((await cai('refvalues', 'publish', '--artifact-id', 'x')).code).toBe(2);
    expect((await cai('refvalues', 'frobnicate')).code).toBe(2);
    expect((await cai('refvalues', 'verify', '--bogus', '1')).code).toBe(2);
  });
});

describe('guest-image/publish-reference-values.sh', () => {
  it('publishes prod and debug reference values of a build and writes the original .rekor-meta.json next to each image', async () => {
    const out = f('image-output');
    mkdirSync(out);
    writeFileSync(f('profile.json'), JSON.stringify({ rekor: { enabled: true, artifact_id: 'cai-openclaw-vllm', artifact_type: 'uki' } }));
    for (const [type, hex] of [['prod', 'a1'], ['debug', 'b2']] as const) {
      writeFileSync(join(out, `cai-final-${type}-202611211200.qcow2`), '');
      writeFileSync(join(out, `cai-final-${type}-202611211200.json`), JSON.stringify({ 'measurement.uki.SHA-384': [hex.repeat(48)] }));
    }
    const script = join(import.meta.dirname, '../../../../guest-image/publish-reference-values.sh');
    const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`, COSIGN_KEY: f('cosign.key'), COSIGN_PASSWORD: '',
      REKOR_URL: server.url, TRUSTED_ROOT: f('trusted_root.json') };
    const { stdout } = await promisify(execFile)('bash', [script, f('profile.json'), out, '202611211200'], { env });
    expect(stdout).toMatch(/Created entry at index \d+/);
    for (const type of ['prod', 'debug']) {
      expect(JSON.parse(readFileSync(join(out, `cai-final-${type}-202611211200.rekor-meta.json`), 'utf8'))).toEqual({
        artifact_id: `cai-openclaw-vllm-${type}`, artifact_version: '202611211200', artifact_type: 'uki', rekor_url: server.url, rv_name: 'measurement.uki.SHA-384',
      });
      expect(JSON.parse(readFileSync(join(out, `cai-final-${type}-202611211200.sigstore.json`), 'utf8')).mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    }
  });
});
