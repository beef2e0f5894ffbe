// The command table (operator/test/fixtures/pep/commands.txt): every row is decided by the default
// policy against a workspace with symlinks into denied places; decision and rule id must match.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCommand } from './analyze.ts';
import { parsePolicy, type PepPolicy } from './policy.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

interface Row {
  line: number;
  decision: 'allow' | 'deny';
  rule: string;
  command: string;
}

/** `\\` → backslash, `\n` → newline, `\t` → tab; anything else stays literal. */
function unescapeCell(s: string): string {
  return s.replace(/\\([\\nt])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
}

export function loadTable(): Row[] {
  const rows: Row[] = [];
  readFileSync(path.join(ROOT, 'operator/test/fixtures/pep/commands.txt'), 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.startsWith('#') || text.trim() === '') return;
      const tab = text.indexOf('\t');
      const [decision, rule] = text.slice(0, tab).split(' ');
      if ((decision !== 'allow' && decision !== 'deny') || !rule) throw new Error(`commands.txt:${i + 1}: bad row`);
      rows.push({ line: i + 1, decision, rule, command: unescapeCell(text.slice(tab + 1)) });
    });
  return rows;
}

let ws: string;
let policy: PepPolicy;

beforeAll(() => {
  ws = mkdtempSync(path.join(tmpdir(), 'pep-table-'));
  mkdirSync(path.join(ws, 'run'));
  mkdirSync(path.join(ws, 'src'));
  symlinkSync('/etc', path.join(ws, 'linked-etc'));
  symlinkSync('/etc/passwd', path.join(ws, 'pw'));
  symlinkSync('/usr/bin/curl', path.join(ws, 'c'));
  writeFileSync(path.join(ws, 'run.sh'), '#!/bin/sh\necho hi\n');
  policy = parsePolicy(readFileSync(path.join(ROOT, 'policies/pep/default.json'), 'utf8')).policy;
  policy.workspace.hostPath = ws;
});
afterAll(() => rmSync(ws, { recursive: true, force: true }));

describe('command table (default policy)', () => {
  const rows = loadTable();
  it('has at least 150 rows, both allows and denies', () => {
    expect(rows.length).toBeGreaterThanOrEqual(150);
    expect(rows.filter((r) => r.decision === 'allow').length).toBeGreaterThan(40);
  });
  it.each(rows.map((r) => [`${r.line}: ${JSON.stringify(r.command)}`, r] as const))('%s', (_label, row) => {
    const d = analyzeCommand(row.command, '/workspace', policy);
    expect({ decision: d.decision, rule: d.ruleId }, d.reason).toEqual({ decision: row.decision, rule: row.rule });
  });
});

describe('bounds', () => {
  it('denies a command longer than shell.maxCommandBytes', () => {
    expect(analyzeCommand(`echo ${'a'.repeat(policy.shell.maxCommandBytes)}`, '/workspace', policy).ruleId).toBe('shell.too_long');
  });
  it('denies a NUL byte', () => {
    expect(analyzeCommand('ls\0curl', '/workspace', policy).ruleId).toBe('shell.nul_byte');
  });
  it('denies sh -c nesting deeper than shell.maxDepth', () => {
    let cmd = 'ls';
    for (let i = 0; i < policy.shell.maxDepth + 1; i++) cmd = `eval ${JSON.stringify(cmd).replace(/\$/g, '\\$')}`;
    expect(analyzeCommand(cmd, '/workspace', policy).ruleId).toBe('shell.too_deep');
    let ok = 'ls';
    for (let i = 0; i < 3; i++) ok = `eval ${JSON.stringify(ok)}`;
    expect(analyzeCommand(ok, '/workspace', policy).decision).toBe('allow');
  });
  it('denies pathological nesting without throwing', () => {
    for (const cmd of ['$('.repeat(3000) + ')'.repeat(3000), '('.repeat(5000) + 'ls' + ')'.repeat(5000), '{ '.repeat(3000) + 'ls; ' + '} '.repeat(3000)]) {
      const d = analyzeCommand(cmd, '/workspace', policy);
      expect(d.decision).toBe('deny');
      expect(['shell.too_long', 'shell.too_deep', 'shell.parse_error', 'shell.analysis_error', 'shell.dynamic_command']).toContain(d.ruleId);
    }
  });
  it('lists every program it found', () => {
    const d = analyzeCommand('cat a | grep -c x && (ls; echo $(wc -l < f))', '/workspace', policy);
    expect(d.programs.sort()).toEqual(['cat', 'echo', 'grep', 'ls', 'wc']);
  });
});
