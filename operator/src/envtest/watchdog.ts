// Watchdog for a control plane: a tiny detached process that outlives its parent. When the parent
// (test runner, `make dev`) disappears without tearing down (SIGKILL, crash, OOM), it kills etcd and
// kube-apiserver and removes the work directory. It exits on its own once the work directory is gone
// (the normal stop path). Run as: node watchdog.ts <parent-pid> <work-dir>
//
// The pid file lists "<pid>\t<binary>" lines; a pid is only killed while /proc still shows it running
// that binary, so a recycled pid is never hit.
import { existsSync, readFileSync, rmSync } from 'node:fs';

export const PID_FILE = 'pids';

export function parsePidFile(text: string): Array<{ pid: number; binary: string }> {
  const entries: Array<{ pid: number; binary: string }> = [];
  for (const line of text.split('\n')) {
    const [pidText, binary] = line.split('\t');
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 1 && binary) entries.push({ pid, binary });
  }
  return entries;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function runs(pid: number, binary: string): boolean {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return argv0 === binary;
  } catch {
    return false;
  }
}

export function killListed(workDir: string): void {
  let text: string;
  try {
    text = readFileSync(`${workDir}/${PID_FILE}`, 'utf8');
  } catch {
    return;
  }
  for (const { pid, binary } of parsePidFile(text)) {
    if (!runs(pid, binary)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // raced with its own exit
    }
  }
}

function main(argv: string[]): void {
  const parent = Number(argv[0]);
  const workDir = argv[1];
  if (!Number.isInteger(parent) || parent <= 1 || !workDir) {
    console.error('usage: watchdog.ts <parent-pid> <work-dir>');
    process.exit(2);
  }
  const timer = setInterval(() => {
    if (!existsSync(workDir)) {
      clearInterval(timer); // stopped normally
      return;
    }
    if (alive(parent)) return;
    clearInterval(timer);
    killListed(workDir);
    // give the kernel a moment to release files held by the killed processes before removing them
    setTimeout(() => rmSync(workDir, { recursive: true, force: true }), 200);
  }, 250);
}

if (import.meta.filename === process.argv[1]) main(process.argv.slice(2));
