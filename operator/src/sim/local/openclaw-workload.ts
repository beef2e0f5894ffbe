// The real OpenClaw gateway (npm `openclaw`, pinned devDependency) as a local guest's workload: started
// offline with a throwaway state directory, loopback-bound, token auth, answering `GET /health` on its port.
// Its model provider is not wired to the model stub (workload-endpoint.ts): `/health` and the WebSocket
// gateway are real, model calls are not exercised here.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTextBounded } from '../../net/bounded-body.ts';

export interface OpenClawWorkload {
  port: number;
  /** The gateway token (connect.params.auth.token); in memory only. */
  token: string;
  close(): Promise<void>;
}

/** Path of the installed openclaw CLI, or undefined when the package is not installed. */
export function openClawCli(): string | undefined {
  // The package's exports map hides package.json; walk the resolver's search paths instead.
  for (const dir of createRequire(import.meta.url).resolve.paths('openclaw') ?? []) {
    const cli = join(dir, 'openclaw', 'openclaw.mjs');
    if (existsSync(cli)) return cli;
  }
  return undefined;
}

export async function startOpenClaw(host: string, port: number, opts: { startTimeoutMs?: number } = {}): Promise<OpenClawWorkload> {
  const cli = openClawCli();
  if (!cli) throw new Error('openclaw is not installed (npm devDependency openclaw@2026.9.6)');
  if (host !== '127.0.0.1') throw new Error('the local OpenClaw workload binds loopback only');
  const home = mkdtempSync(join(tmpdir(), 'cai-openclaw-'));
  const token = randomBytes(24).toString('base64url');
  // Own process group: OpenClaw spawns helper workers; stop() ends the group it leads, by its pid.
  const child: ChildProcess = spawn(process.execPath, [cli, 'gateway', 'run', '--allow-unconfigured', '--bind', 'loopback', '--port', String(port), '--auth', 'token', '--token', token], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, OPENCLAW_STATE_DIR: join(home, '.openclaw'), TMPDIR: home, NO_COLOR: '1' },
  });
  let out = '';
  const keep = (b: Buffer) => (out = (out + b.toString('utf8')).slice(-16_384));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL'); // its drain budget is minutes; a simulated guest is powered off
      } catch {
        /* already gone */
      }
      await exited;
    }
    rmSync(home, { recursive: true, force: true });
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`OpenClaw gateway exited (${child.exitCode}) at start: ${out.slice(-2000)}`);
    }
    try {
      const res = await fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(2000) });
      const body = await readTextBounded(res, 4096);
      if (res.ok && /"ok":\s*true/.test(body)) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`OpenClaw gateway did not answer /health within ${opts.startTimeoutMs ?? 120_000} ms: ${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { port, token, close: stop };
}
