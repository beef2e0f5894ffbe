import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { derivedGuid, GPT_TYPE, gptLayout } from './gpt.ts';

describe('gptLayout', () => {
  it('writes a GPT that sfdisk reads back: labels, types, 1 MiB-aligned partitions, derived GUIDs', () => {
    const parts = [
      { label: 'cai-esp', type: GPT_TYPE.esp, size: 3 * 1024 * 1024 },
      { label: 'cai-root', type: GPT_TYPE.rootX86_64, size: 1024 * 1024 + 1 },
    ];
    const l = gptLayout('t', parts);
    expect(l.partitions.map((p) => [p.offset, p.size])).toEqual([[1048576, 3145728], [4194304, 2097152]]);
    const disk = Buffer.alloc(l.diskBytes);
    l.head.copy(disk, 0);
    l.tail.copy(disk, l.diskBytes - l.tail.length);
    const dir = mkdtempSync(join(tmpdir(), 'gpt-'));
    writeFileSync(join(dir, 'd.img'), disk);
    const dump = JSON.parse(execFileSync('sfdisk', ['--json', join(dir, 'd.img')], { encoding: 'utf8' })) as { partitiontable: { label: string; partitions: { name: string; type: string; start: number; uuid: string }[] } };
    expect(dump.partitiontable.label).toBe('gpt');
    expect(dump.partitiontable.partitions.map((p) => [p.name, p.type.toLowerCase(), p.start, p.uuid.toLowerCase()])).toEqual([
      ['cai-esp', GPT_TYPE.esp, 2048, derivedGuid('t/cai-esp')],
      ['cai-root', GPT_TYPE.rootX86_64, 8192, derivedGuid('t/cai-root')],
    ]);
    // sfdisk --verify checks both headers and CRCs.
    expect(execFileSync('sfdisk', ['--verify', join(dir, 'd.img')], { encoding: 'utf8' })).toContain('No errors detected.');
    expect(gptLayout('t', parts).head.equals(l.head)).toBe(true);
  });

  it('refuses labels that do not fit and empty tables', () => {
    expect(() => gptLayout('t', [])).toThrow(/1\.\.128 partitions/);
    expect(() => gptLayout('t', [{ label: 'x'.repeat(37), type: GPT_TYPE.esp, size: 1 }])).toThrow(/1-36 characters/);
  });
});
