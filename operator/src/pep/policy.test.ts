// The policy document: the JSON Schema file matches the zod schema, the shipped default validates
// under both, the seed's file maps as documented, and bad documents fail with the field named.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { defaultPolicyText, REPO_ROOT } from '../../test/support/pep.ts';
import { analyzeCommand } from './analyze.ts';
import { parsePolicy, policyDigest, policyJsonSchema, PolicyError } from './policy.ts';

const schemaFile = path.join(REPO_ROOT, 'policies/pep/policy.schema.json');

describe('policy schema', () => {
  it('policies/pep/policy.schema.json is the schema generated from zod (cai pep schema)', () => {
    expect(JSON.parse(readFileSync(schemaFile, 'utf8'))).toEqual(policyJsonSchema());
  });
  it('the default policy validates under the JSON Schema (ajv) and zod', () => {
    const validate = new Ajv2020({ strict: false }).compile(JSON.parse(readFileSync(schemaFile, 'utf8')) as object);
    expect(validate(JSON.parse(defaultPolicyText())), JSON.stringify(validate.errors)).toBe(true);
    expect(parsePolicy(defaultPolicyText()).format).toBe('v1');
  });
  it('the digest is sha256 over the exact bytes', () => {
    expect(policyDigest('{}')).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
  });
});

describe('policy negative cases', () => {
  const base = JSON.parse(defaultPolicyText()) as Record<string, unknown>;
  const bad = (mut: (d: Record<string, unknown>) => void): string => {
    const d = structuredClone(base);
    mut(d);
    return JSON.stringify(d);
  };
  it.each([
    ['not JSON', '{', /policy is not JSON/],
    ['an array', '[]', /must be a JSON object/],
    ['an unknown field', bad((d) => (d.extra = 1)), /\(root\): Unrecognized key: "extra"/],
    ['a wrong apiVersion', bad((d) => (d.apiVersion = 'v0')), /apiVersion/],
    ['a relative allowed root', bad((d) => ((d.paths as { allowedRoots: string[] }).allowedRoots = ['workspace'])), /paths\.allowedRoots\.0: an absolute path/],
    ['a ".." prefix', bad((d) => ((d.paths as { deniedPrefixes: string[] }).deniedPrefixes = ['/workspace/../etc'])), /paths\.deniedPrefixes\.0/],
    ['a program with a slash', bad((d) => ((d.programs as { allow: string[] }).allow = ['/bin/ls'])), /programs\.allow\.0: a bare program name/],
    ['bubblewrap with a network', bad((d) => ((d.network as { mode: string }).mode = 'host')), /bubblewrap backend always unshares the network/],
    ['docker without an image', bad((d) => ((d.sandbox as { backend: string }).backend = 'docker')), /sandbox\.docker\.image is required/],
    ['a broken interpreter regex', bad((d) => ((d.interpreters as { program: string }[])[0]!.program = '^(py')), /not a valid regular expression/],
    ['a zero timeout', bad((d) => ((d.limits as { timeoutSeconds: number }).timeoutSeconds = 0)), /limits\.timeoutSeconds/],
    ['a seed file with a bad field', JSON.stringify({ timeout_secs: 'x' }), /invalid seed cai-pep policy \(no apiVersion\): timeout_secs/],
  ])('rejects %s', (_what, text, msg) => {
    expect(() => parsePolicy(text)).toThrow(PolicyError);
    expect(() => parsePolicy(text)).toThrow(msg);
  });
});

describe('seed policy format', () => {
  const seedText = readFileSync(path.join(REPO_ROOT, 'operator/test/fixtures/pep/seed-policy.json'), 'utf8');
  it('maps the seed default file as documented in policies/pep/README.md', () => {
    const { policy, format } = parsePolicy(seedText);
    expect(format).toBe('seed');
    expect(policy.programs.default).toBe('allow');
    expect(policy.programs.deny).toEqual(['curl', 'wget', 'nc', 'ncat', 'ssh', 'scp', 'sftp', 'telnet', 'docker', 'podman']);
    expect(policy.paths.deniedPrefixes).toEqual(['/etc', '/proc', '/sys', '/dev', '/root', '/run', '/var/run', '/home/openclaw/.openclaw']);
    expect(policy.sandbox).toMatchObject({ backend: 'docker', docker: { image: 'alibaba-cloud-linux-3-registry.cn-hangzhou.cr.aliyuncs.com/alinux3/alinux3:latest' } });
    expect(policy.limits).toMatchObject({ timeoutSeconds: 30, stdoutMaxBytes: 65536, stderrMaxBytes: 32768, memoryMb: 512, cpus: 1, pids: 128 });
    expect(policy.service.socketPath).toBe('/run/cai/pep.sock');
    expect(parsePolicy('{}').policy).toEqual(policy); // every seed field has its default
  });
  it('keeps the seed intent without its substring false positives', () => {
    const { policy } = parsePolicy(seedText);
    const d = (c: string) => analyzeCommand(c, '/workspace', policy, { realpath: () => undefined });
    expect(d('ls 2>/dev/null').decision).toBe('allow');
    expect(d('cd /workspace/run').decision).toBe('allow');
    expect(d('curl\tx').ruleId).toBe('program.denied');
    expect(d('cat /etc/passwd').ruleId).toBe('path.denied');
    expect(d('$(printf cu)rl x').ruleId).toBe('shell.dynamic_command');
  });
  it('keeps a multi-word seed pattern as a substring rule (command.deny_pattern)', () => {
    const { policy } = parsePolicy(JSON.stringify({ denied_command_patterns: ['rm -rf /', 'curl '] }));
    expect(policy.shell.legacyDenySubstrings).toEqual(['rm -rf /']);
    expect(analyzeCommand('rm -rf /', '/workspace', policy).ruleId).toBe('command.deny_pattern');
  });
});
