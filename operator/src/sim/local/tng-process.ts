// Runs the real TNG binary (PyPI tng-sdk 2.12.0, installed by hack/tng/install.sh) with a rendered,
// validated config (protocol/tng-config.ts): the local guest's egress, and `cai connect`'s loopback client.
// Output is kept (bounded) for diagnostics; the process is stopped by its own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseTngConfig } from '../../protocol/tng-config.ts';

export const TNG_VERSION = '2.12.0';
const MAX_OUTPUT = 1024 * 1024;
const ANSI = new RegExp(String.raw`\u001b\[[0-9;]*m`, 'g');

/** The cached TNG binary (CAI_TNG_BIN overrides), or undefined when it is not installed. */
export function findTngBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const bin = env['CAI_TNG_BIN'] ?? join(env['CAI_CACHE'] ?? join(homedir(), '.cache/cai-operator'), 'tng', TNG_VERSION, 'tng');
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    return undefined;
  }
}

export interface TngRunner {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in the output; rejects when TNG exits first or on timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export function runTng(binary: string, configText: string, opts: { env?: Record<string, string> } = {}): TngRunner {
  parseTngConfig(configText); // never launch a config the operator's own validation refuses
  const child = spawn(binary, ['launch', '--config-content', configText], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', RUST_LOG: 'info', ...opts.env },
  });
  let out = '';
  const append = (b: Buffer) => {
    out += b.toString('utf8').replace(ANSI, '');
    if (out.length > MAX_OUTPUT) out = out.slice(-MAX_OUTPUT / 2);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async waitFor(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = pattern.exec(out);
        if (m) return m[0];
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`TNG exited (${child.exitCode ?? child.signalCode}) before ${pattern}: ${out.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`TNG did not print ${pattern} within ${timeoutMs} ms: ${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
