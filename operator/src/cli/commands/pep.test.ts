// `cai pep check|digest|schema`: what a user runs to test a policy before shipping it.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { policyDigest } from '../../pep/policy.ts';
import type { CliIO } from '../command.ts';
import { runCli } from '../main.ts';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const POLICY = path.join(ROOT, 'policies/pep/default.json');

async function run(args: string[]) {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (t) => (out += t), stderr: (t) => (err += t), readStdin: () => Promise.resolve(Buffer.alloc(0)), env: {} };
  const code = await runCli(['pep', ...args], io);
  return { code, out, err };
}

describe('cai pep check', () => {
  it('prints allow with the programs it found (exit 0)', async () => {
    const r = await run(['check', '--policy', POLICY, '--', 'ls 2>/dev/null | wc -l']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^allow rule=allow programs=\[ls, wc\]\n/);
  });
  it('prints deny with the rule id (exit 3)', async () => {
    const r = await run(['check', '--policy', POLICY, '--', 'echo hi && python3 -c "import urllib"']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^deny rule=interpreter\.inline_code programs=\[echo, python3\]\n {2}python3 -c: inline code/);
  });
  it('--json prints the decision object', async () => {
    const r = await run(['check', '--json', '--policy', POLICY, '--', 'cat /etc/shadow']);
    expect(JSON.parse(r.out)).toMatchObject({ decision: 'deny', ruleId: 'path.denied', programs: ['cat'] });
  });
  it('accepts a seed-format policy file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cai-pep-'));
    const f = path.join(dir, 'seed.json');
    writeFileSync(f, JSON.stringify({ denied_command_patterns: ['curl '] }));
    const r = await run(['check', '--policy', f, '--', 'curl\tx']);
    expect(r.out).toMatch(/^deny rule=program\.denied/);
  });
  it('rejects a bad policy naming the field, and bad usage', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cai-pep-'));
    const f = path.join(dir, 'bad.json');
    writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(POLICY, 'utf8')), kind: 'Other' }));
    const r = await run(['check', '--policy', f, '--', 'ls']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('kind');
    expect((await run(['check', '--policy', POLICY])).code).toBe(2);
    expect((await run(['check', '--', 'ls'])).code).toBe(2);
  });
  it('digest prints sha256 over the file bytes', async () => {
    const r = await run(['digest', '--policy', POLICY]);
    expect(r.out.trim()).toBe(policyDigest(readFileSync(POLICY)));
  });
});
