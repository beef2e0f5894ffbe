import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeCpio, type CpioEntry } from './cpio.ts';

const entries: CpioEntry[] = [
  { kind: 'dir', path: 'bin' },
  { kind: 'file', path: 'bin/tool', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
  { kind: 'symlink', path: 'bin/sh', target: 'tool' },
  { kind: 'file', path: 'odd', data: Buffer.from('abc') },
];

describe('writeCpio', () => {
  it('is deterministic and readable by GNU cpio with the given modes, links and mtime', () => {
    const a = writeCpio(entries, 1764806400);
    expect(a.equals(writeCpio(entries, 1764806400))).toBe(true);
    expect(a.length % 4).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'cpio-'));
    writeFileSync(join(dir, 'a.cpio'), a);
    execFileSync('sh', ['-c', 'cd "$1" && mkdir x && cd x && cpio -idm --quiet < ../a.cpio', 'sh', dir]);
    expect(readFileSync(join(dir, 'x/bin/tool'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(statSync(join(dir, 'x/bin/tool')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'x/odd')).mtimeMs / 1000).toBe(1764806400);
    expect(readlinkSync(join(dir, 'x/bin/sh'))).toBe('tool');
  });

  it('refuses absolute, parent-escaping and duplicate paths', () => {
    expect(() => writeCpio([{ kind: 'dir', path: '/etc' }], 0)).toThrow(/bad or duplicate path/);
    expect(() => writeCpio([{ kind: 'dir', path: 'a/../../etc' }], 0)).toThrow(/bad or duplicate path/);
    expect(() => writeCpio([{ kind: 'dir', path: 'a' }, { kind: 'dir', path: 'a' }], 0)).toThrow(/bad or duplicate path/);
  });
});
