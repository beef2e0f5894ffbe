// Every Sigstore conformance bundle-verify case and every sigstore-js bundle in the fixtures, run through
// the project's entry point (`cai sigstore verify-bundle`, in process) with the conformance client
// protocol; `_fail` cases must exit non-zero, the others 0.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.ts';
import { verifySigstoreBundle } from './sigstore-bundle.ts';

const FIX = join(import.meta.dirname, '../../../test/fixtures/sigstore');
const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')) as { cases: Record<string, { expected: 'pass' | 'fail' }> };
const DEFAULT_IDENTITY = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (out += t), readStdin: async () => Buffer.alloc(0), env: {} };
  return { code: await runCli(args, io), out };
}

function argsFor(name: string): string[] {
  const dir = join(FIX, 'conformance/bundle-verify', name.replace(/^conformance\//, ''));
  const file = (f: string) => join(dir, f);
  const root = existsSync(file('trusted_root.json')) ? file('trusted_root.json') : join(FIX, 'trusted_root.public-good.json');
  const artifact = existsSync(file('artifact')) ? file('artifact') : join(dirname(dir), 'a.txt');
  const signer = existsSync(file('key.pub'))
    ? ['--key', file('key.pub')]
    : ['--certificate-identity', existsSync(file('identity')) ? readFileSync(file('identity'), 'utf8').trim() : DEFAULT_IDENTITY,
       '--certificate-oidc-issuer', existsSync(file('issuer')) ? readFileSync(file('issuer'), 'utf8').trim() : DEFAULT_ISSUER];
  return ['--bundle', file('bundle.sigstore.json'), ...signer, '--trusted-root', root, artifact];
}

describe('sigstore-conformance bundle-verify cases and sigstore-js bundles', () => {
  const names = Object.keys(expected.cases);
  it('covers every case directory in the fixtures', () => {
    const dirs = readdirSync(join(FIX, 'conformance/bundle-verify'), { withFileTypes: true }).filter((d) => d.isDirectory());
    expect(names.filter((n) => n.startsWith('conformance/')).sort()).toEqual(dirs.map((d) => `conformance/${d.name}`).sort());
    expect(dirs.length).toBe(47);
    expect(names.filter((n) => n.startsWith('sigstore-js-bundles/')).length).toBe(9);
  });
  for (const name of names.filter((n) => n.startsWith('sigstore-js-bundles/'))) {
    it(`${name} verifies (no artifact: DSSE signatures cover the statement; its subject is an npm tarball not in the fixtures)`, () => {
      const v = verifySigstoreBundle({
        bundleJson: readFileSync(join(FIX, name), 'utf8'),
        trustedRootJson: readFileSync(join(FIX, 'trusted_root.public-good.json'), 'utf8'),
        identity: { subjectAlternativeName: 'brian@dehamer.com', issuer: 'https://github.com/login/oauth' },
      });
      expect(v.ok, v.ok ? '' : v.message).toBe(true);
    });
  }
  for (const name of names.filter((n) => n.startsWith('conformance/'))) {
    const want = expected.cases[name]!.expected;
    it(`${name} -> ${want}`, async () => {
      const { code, out } = await run(['sigstore', 'verify-bundle', ...argsFor(name)]);
      expect(code, out).toBe(want === 'pass' ? 0 : 1);
    });
  }

  // The same cases with the artifact given as sha256:<hex> (the protocol's digest form).
  for (const name of names.filter((n) => n.startsWith('conformance/'))) {
    const want = expected.cases[name]!.expected;
    it(`${name} (sha256 digest form) -> ${want}`, async () => {
      const args = argsFor(name);
      args[args.length - 1] = `sha256:${createHash('sha256').update(readFileSync(args.at(-1)!)).digest('hex')}`;
      const { code, out } = await run(['sigstore', 'verify-bundle', ...args]);
      expect(code, out).toBe(want === 'pass' ? 0 : 1);
    });
  }

  it('a DSSE bundle whose in-toto subject is not the artifact fails', async () => {
    const args = argsFor('conformance/happy-path-intoto-in-dsse-v3');
    args[args.length - 1] = join(FIX, 'expected.json');
    const { code, out } = await run(['sigstore', 'verify-bundle', ...args]);
    expect(code).toBe(1);
    expect(out).toContain('SubjectMismatch');
  });

  it('the wrong certificate identity fails', async () => {
    const args = argsFor('conformance/happy-path-v0.3').map((a) => (a === DEFAULT_IDENTITY ? 'https://example.com/other' : a));
    const { code } = await run(['sigstore', 'verify-bundle', ...args]);
    expect(code).toBe(1);
  });

  it('usage errors exit 2', async () => {
    expect((await run(['sigstore', 'verify-bundle', 'x'])).code).toBe(2);
    expect((await run(['sigstore', 'verify-bundle', '--bundle', 'b', '--key', 'k'])).code).toBe(2);
    expect((await run(['sigstore', 'verify-bundle', '--bundle', 'b', '--key', 'k', 'sha256:zz'])).code).toBe(2);
    expect((await run(['sigstore', 'nope'])).code).toBe(2);
  });
});
