import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from './registry.ts';
import { runCli } from './main.ts';

describe('cai command registry', () => {
  it('lists every command module once, with the path and summary the module itself declares', async () => {
    const files = readdirSync(join(import.meta.dirname, 'commands')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(COMMANDS).toHaveLength(files.length);
    for (const entry of COMMANDS) {
      const { command } = await entry.load();
      expect(command.path).toEqual(entry.path);
      expect(command.summary).toBe(entry.summary);
    }
  });
  it('prints help without loading commands, and rejects unknown ones with exit code 2', async () => {
    let out = '';
    let err = '';
    const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t), readStdin: async () => Buffer.alloc(0), env: {} };
    expect(await runCli([], io)).toBe(0);
    expect(out).toContain('cai verify tdx');
    expect(await runCli(['no-such-command'], io)).toBe(2);
    expect(err).toContain("unknown command 'no-such-command'");
  });
});
