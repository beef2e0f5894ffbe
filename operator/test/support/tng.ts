// The real TNG binary (PyPI tng-sdk 2.12.0, installed by hack/tng/install.sh / `make tng`) as a test peer:
// launched with a JSON config on loopback ports, its output captured, stopped by pid. Tests find the binary
// through CAI_TNG_BIN (default: the cache path the install script uses).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const TNG_VERSION = '2.12.0';

export function tngBinary(): string {
  const bin = process.env['CAI_TNG_BIN'] ?? join(process.env['CAI_CACHE'] ?? join(homedir(), '.cache/cai-operator'), 'tng', TNG_VERSION, 'tng');
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`TNG ${TNG_VERSION} binary not found at ${bin}: run \`make tng\` (hack/tng/install.sh) or set CAI_TNG_BIN`);
  }
  return bin;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface TngProcess {
  /** Everything TNG printed so far (stdout + stderr, ANSI colours stripped). */
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
  readonly child: ChildProcess;
}

const ANSI = new RegExp(String.raw`\u001b\[[0-9;]*m`, 'g');

export function launchTng(config: object, opts: { env?: Record<string, string> } = {}): TngProcess {
  const child = spawn(tngBinary(), ['launch', '--config-content', JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', RUST_LOG: 'info', ...opts.env },
  });
  let out = '';
  const append = (b: Buffer) => {
    out += b.toString('utf8').replace(ANSI, '');
    if (out.length > 4 * 1024 * 1024) out = out.slice(-2 * 1024 * 1024);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async waitForOutput(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = pattern.exec(out);
        if (m) return m[0];
        if (child.exitCode !== null) throw new Error(`TNG exited (${child.exitCode}) before printing ${pattern}:\n${out.slice(-4000)}`);
        if (Date.now() > deadline) throw new Error(`TNG did not print ${pattern} within ${timeoutMs} ms:\n${out.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
