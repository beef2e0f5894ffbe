// Runs an allowed command in the sandbox: bubblewrap (default) or the seed's Docker invocation.
// Whatever the policy allowed, the sandbox is the last line: no network namespace access, read-only
// system directories, only the workspace writable, fresh PID/IPC/UTS namespaces, rlimits, a wall-clock
// timeout and capped output (the seed's truncation markers).
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, statSync } from 'node:fs';
import type { PepPolicy } from './policy.ts';

export const TRUNCATED_MARKER = '\n[truncated by cai-pep]';
export const TIMEOUT_MARKER = '[timed out by cai-pep]';

export interface SandboxRequest {
  command: string;
  /** The workdir inside the sandbox (under workspace.mountTarget), already checked. */
  workdir: string;
}

export interface SandboxResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
  timedOut: boolean;
  backend: 'bubblewrap' | 'docker';
  sandboxProfile: string;
}

export interface SandboxOptions {
  bwrapPath?: string;
  prlimitPath?: string;
  dockerPath?: string;
  /** uid/gid the sandbox runs as when the PEP runs as root (RLIMIT_NPROC does not bind root). */
  uid?: number;
  gid?: number;
}

/** bubblewrap arguments (without the rlimit wrapper); exported so tests can read them. */
export function bwrapArgs(policy: PepPolicy, req: SandboxRequest): string[] {
  const args = ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--hostname', 'pep-sandbox', '--clearenv'];
  for (const p of policy.sandbox.readOnlyBinds) {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue; // not on this system (e.g. /lib32)
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
    else args.push('--ro-bind', p, p);
  }
  const ws = policy.workspace;
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--bind', ws.hostPath, ws.mountTarget, '--chdir', req.workdir);
  args.push('--setenv', 'PATH', '/usr/local/bin:/usr/bin:/bin', '--setenv', 'HOME', ws.mountTarget, '--setenv', 'LANG', 'C.UTF-8', '--setenv', 'TMPDIR', '/tmp');
  args.push('--', '/bin/sh', '-c', req.command);
  return args;
}

/** prlimit arguments: CPU seconds, address space, processes, file size, no core dumps, open files. */
export function rlimitArgs(policy: PepPolicy): string[] {
  const l = policy.limits;
  return [
    `--cpu=${l.cpuSeconds}`,
    `--as=${l.memoryMb * 1024 * 1024}`,
    `--nproc=${l.pids}`,
    `--fsize=${l.fileSizeMb * 1024 * 1024}`,
    '--core=0',
    '--nofile=1024',
  ];
}

/** The seed's `docker run` arguments, exactly (cai-pep/src/main.rs). */
export function dockerArgs(policy: PepPolicy, req: SandboxRequest, uid: number, gid: number): string[] {
  const l = policy.limits;
  const image = policy.sandbox.docker?.image ?? '';
  return [
    'run', '--rm', '--init', '--read-only', '--network', policy.network.mode, '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '--pids-limit', String(l.pids), '--memory', `${l.memoryMb}m`, '--cpus', String(l.cpus),
    '--tmpfs', '/tmp:rw,noexec,nosuid,nodev,size=64m', '--tmpfs', '/run:rw,noexec,nosuid,nodev,size=16m',
    '--user', `${uid}:${gid}`, '-v', `${policy.workspace.hostPath}:${policy.workspace.mountTarget}:rw`,
    '--workdir', req.workdir, image, '/bin/sh', '-lc', req.command,
  ];
}

/** Collects a stream up to `max` bytes; past it, stops reading (the writer gets EPIPE) and marks truncation. */
class CappedSink {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  push(b: Buffer): boolean {
    if (this.truncated) return false;
    const room = this.max - this.size;
    if (b.length > room) {
      this.chunks.push(b.subarray(0, room));
      this.size = this.max;
      this.truncated = true;
      return false;
    }
    this.chunks.push(b);
    this.size += b.length;
    return true;
  }
  text(): string {
    const s = Buffer.concat(this.chunks).toString('utf8');
    return this.truncated ? s + TRUNCATED_MARKER : s;
  }
}

export async function runSandboxed(policy: PepPolicy, req: SandboxRequest, opts: SandboxOptions = {}): Promise<SandboxResult> {
  const started = performance.now();
  const backend = policy.sandbox.backend;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  let file: string;
  let args: string[];
  let spawnIds: { uid?: number; gid?: number } = {};
  if (backend === 'bubblewrap') {
    file = opts.prlimitPath ?? '/usr/bin/prlimit';
    args = [...rlimitArgs(policy), '--', opts.bwrapPath ?? '/usr/bin/bwrap', ...bwrapArgs(policy, req)];
    if (asRoot) spawnIds = { uid: opts.uid ?? 65534, gid: opts.gid ?? 65534 };
  } else {
    const st = statSync(hostPathOf(policy, req.workdir));
    file = opts.dockerPath ?? 'docker';
    // The seed: --user <the PEP's uid>:<gid of the workdir>.
    args = dockerArgs(policy, req, opts.uid ?? process.getuid?.() ?? st.uid, st.gid);
  }
  if (!existsSync(policy.workspace.hostPath)) throw new Error(`workspace ${policy.workspace.hostPath} does not exist`);
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: {}, detached: false, ...spawnIds });
  const out = new CappedSink(policy.limits.stdoutMaxBytes);
  const err = new CappedSink(policy.limits.stderrMaxBytes);
  child.stdout.on('data', (b: Buffer) => {
    if (!out.push(b)) child.stdout.destroy();
  });
  child.stderr.on('data', (b: Buffer) => {
    if (!err.push(b)) child.stderr.destroy();
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL'); // --die-with-parent then takes the sandbox's PID namespace down with it
  }, policy.limits.timeoutSeconds * 1000);
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (e) => resolve({ code: null, signal: null, error: e }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  if (exit.error) throw exit.error;
  let stderr = err.text();
  let exitCode = exit.code ?? (exit.signal ? 128 + signalNumber(exit.signal) : 1);
  if (timedOut) {
    stderr += (stderr && !stderr.endsWith('\n') ? '\n' : '') + TIMEOUT_MARKER;
    if (exit.code === null) exitCode = 124;
  }
  return {
    stdout: out.text(),
    stderr,
    exitCode,
    durationMs: Math.round(performance.now() - started),
    timedOut,
    backend,
    sandboxProfile: backend === 'bubblewrap' ? 'default-bubblewrap' : 'default-docker',
  };
}

function hostPathOf(policy: PepPolicy, sandboxPath: string): string {
  const { hostPath, mountTarget } = policy.workspace;
  return sandboxPath === mountTarget || sandboxPath.startsWith(`${mountTarget}/`) ? hostPath + sandboxPath.slice(mountTarget.length) : sandboxPath;
}

function signalNumber(sig: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGXCPU: 24, SIGXFSZ: 25 };
  return table[sig] ?? 0;
}
