// One supervised child process of the control plane: output goes to a log file (so a failed start can
// quote its last lines), its exit is observable, and stopping it is graceful with a SIGKILL fallback.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly binary: string;
  readonly logPath: string;
  /** Resolves with the exit code (or signal name) when the process ends; never rejects. */
  readonly exited: Promise<string>;
  isRunning(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs` (0: SIGKILL at once); resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Synchronous SIGKILL, for process-exit handlers. */
  killNow(): void;
  /** The last `lines` lines of its output, for error messages. */
  tail(lines?: number): string;
}

export class ControlPlaneError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ControlPlaneError';
    this.code = code;
  }
}

export function startProcess(name: string, binary: string, args: string[], logPath: string): ManagedProcess {
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, { stdio: ['ignore', fd, fd], env: { ...process.env, GOTRACEBACK: 'all' } });
  } finally {
    closeSync(fd);
  }
  let running = child.pid !== undefined;
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve(signal ?? String(code));
    });
    child.once('error', (err) => {
      running = false;
      resolve(`spawn error: ${err.message}`);
    });
  });
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT, EACCES): report it the same way as an early exit
    return makeHandle(name, -1, binary, logPath, exited, () => false, child);
  }
  return makeHandle(name, child.pid, binary, logPath, exited, () => running, child);
}

function makeHandle(
  name: string,
  pid: number,
  binary: string,
  logPath: string,
  exited: Promise<string>,
  isRunning: () => boolean,
  child: ChildProcess,
): ManagedProcess {
  const signal = (sig: NodeJS.Signals) => {
    if (!isRunning()) return;
    try {
      child.kill(sig);
    } catch {
      // already gone
    }
  };
  return {
    name,
    pid,
    binary,
    logPath,
    exited,
    isRunning,
    async stop(graceMs = 5_000) {
      if (!isRunning()) return;
      if (graceMs <= 0) {
        signal('SIGKILL');
        await exited;
        return;
      }
      signal('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const outcome = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        signal('SIGKILL');
        await exited;
      }
    },
    killNow() {
      signal('SIGKILL');
    },
    tail(lines = 20) {
      try {
        return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '(no output)';
      }
    },
  };
}
