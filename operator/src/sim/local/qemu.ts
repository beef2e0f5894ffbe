// The `qemu` backend of the local provider: boots a built guest image (guest-image/, profile `dev`) in
// QEMU with OVMF (UEFI measured boot) and a swtpm vTPM, instead of running the simulated guest as a
// process. KVM when /dev/kvm really works (probed: nested setups often expose a /dev/kvm that cannot run
// a guest), TCG otherwise — the choice is reported, never silent. Networking is QEMU user mode with
// restrict=on (the guest reaches nothing) and host-forwards bound to 127.0.0.1 only.
import { spawn, execFile as execFileCb, type ChildProcess } from 'node:child_process';
import { access, constants, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { GuestLauncher } from './cloud-server.ts';

const execFile = promisify(execFileCb);

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

/** Ports the image's guest agent serves (guest-image/profiles/dev.json rootfs.*Port). */
export interface ImagePorts {
  guestApi: number;
  workload: number;
  info: number;
}

export interface QemuGuestOptions {
  /** The built qcow2; never written (each boot gets a copy-on-write overlay). */
  image: string;
  ports: ImagePorts;
  accel: 'kvm' | 'tcg';
  memoryMiB?: number;
  /** Keep the work directory (serial log, overlay) after close (tests boot the same disk again). */
  keep?: boolean;
  /** Boot this existing overlay (a disk an earlier boot wrote) instead of a fresh one. */
  overlay?: string;
}

export interface QemuGuest {
  accel: 'kvm' | 'tcg';
  /** guest port -> 127.0.0.1 host port */
  hostPorts: Record<number, number>;
  workDir: string;
  /** The guest's disk (copy-on-write overlay over the image). */
  disk: string;
  /** Resolves when QEMU exits (the guest powered off, or was killed). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  serialLog(): Promise<string>;
  close(): Promise<void>;
}

export class QemuError extends Error {
  readonly code: 'QemuMissing' | 'SwtpmFailed' | 'QemuFailed';
  constructor(code: QemuError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

async function freeLoopbackPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r, j) => s.once('error', j).listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function waitExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Whether KVM can run a guest here. /dev/kvm existing is not enough (nested hosts can refuse MSRs or
 * fail emulation), so this starts OVMF under KVM for a few seconds and looks for errors.
 */
export async function probeKvm(timeoutMs = 4000): Promise<{ usable: boolean; reason: string }> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { usable: false, reason: '/dev/kvm is missing or not accessible' };
  }
  const dir = await mkdtemp(join(tmpdir(), 'cai-kvm-probe-'));
  try {
    await copyFile(OVMF_VARS, join(dir, 'vars.fd'));
    const child = spawn('qemu-system-x86_64', ['-machine', 'q35,accel=kvm', '-cpu', 'host', '-m', '256', '-nodefaults', '-display', 'none', '-no-reboot', '-monitor', 'none', '-serial', 'none',
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${join(dir, 'vars.fd')}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(0, 4096)));
    const exit = waitExit(child);
    const r = await Promise.race([exit, new Promise<'running'>((res) => setTimeout(() => res('running'), timeoutMs))]);
    if (r === 'running') {
      child.kill('SIGKILL');
      await exit;
    }
    const bad = /KVM internal error|emulation failure|Assertion|failed to set MSR|Could not access KVM/i.exec(stderr);
    if (r !== 'running' || bad) return { usable: false, reason: `KVM cannot run a guest here: ${(stderr.split('\n').find((l) => l.trim()) ?? `qemu exited with ${JSON.stringify(r)}`).slice(0, 200)}` };
    return { usable: true, reason: 'KVM ran OVMF' };
  } catch (err) {
    return { usable: false, reason: `KVM probe failed: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function startQemuGuest(o: QemuGuestOptions): Promise<QemuGuest> {
  const dir = await mkdtemp(join(tmpdir(), 'cai-qemu-'));
  const children: ChildProcess[] = [];
  const cleanup = async () => {
    // SIGTERM first: QEMU then flushes its qcow2 metadata, so the disk stays bootable.
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    const done = Promise.all(children.map(waitExit));
    const timer = setTimeout(() => children.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')), 5000);
    await done;
    clearTimeout(timer);
    if (!o.keep) await rm(dir, { recursive: true, force: true });
  };
  try {
    await copyFile(OVMF_VARS, join(dir, 'vars.fd'));
    const disk = o.overlay ?? join(dir, 'disk.qcow2');
    if (!o.overlay) await execFile('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', o.image, disk]);
    // A fresh vTPM with the SHA-256 and SHA-384 PCR banks (the reference value is SHA-384).
    await mkdir(join(dir, 'tpm'));
    await execFile('swtpm_setup', ['--tpm2', '--tpmstate', join(dir, 'tpm'), '--pcr-banks', 'sha256,sha384', '--overwrite']).catch((err: unknown) => {
      throw new QemuError('SwtpmFailed', `swtpm_setup failed: ${err instanceof Error ? err.message.slice(0, 300) : String(err)}`);
    });
    const sock = join(dir, 'swtpm.sock');
    const swtpm = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${join(dir, 'tpm')}`, '--ctrl', `type=unixio,path=${sock}`, '--terminate', '--log', `file=${join(dir, 'swtpm.log')}`], { stdio: 'ignore' });
    children.push(swtpm);
    for (let i = 0; i < 50; i++) {
      if (await access(sock).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const hostPorts: Record<number, number> = {};
    for (const p of [o.ports.guestApi, o.ports.workload, o.ports.info]) hostPorts[p] = await freeLoopbackPort();
    const fwd = Object.entries(hostPorts).map(([g, h]) => `hostfwd=tcp:127.0.0.1:${h}-:${g}`).join(',');
    const args = [
      '-machine', `q35,accel=${o.accel}`, '-cpu', o.accel === 'kvm' ? 'host' : 'max', '-m', String(o.memoryMiB ?? 1024), '-smp', '1',
      '-nodefaults', '-display', 'none', '-no-reboot', '-monitor', 'none', '-serial', `file:${join(dir, 'serial.log')}`,
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${join(dir, 'vars.fd')}`,
      '-chardev', `socket,id=chrtpm,path=${sock}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', 'tpm-tis,tpmdev=tpm0',
      '-drive', `if=none,id=d0,file=${disk},format=qcow2`, '-device', 'virtio-blk-pci,drive=d0',
      '-netdev', `user,id=n0,restrict=on,${fwd}`, '-device', 'virtio-net-pci,netdev=n0',
    ];
    const qemu = spawn('nice', ['-n', '10', 'qemu-system-x86_64', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(qemu);
    let stderr = '';
    qemu.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4096)));
    const exited = waitExit(qemu).then((r) => {
      if (swtpm.exitCode === null) swtpm.kill('SIGTERM');
      return r;
    });
    const early = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 500))]);
    if (early) throw new QemuError('QemuFailed', `qemu exited at once (${JSON.stringify(early)}): ${stderr.slice(0, 500)}`);
    return {
      accel: o.accel,
      hostPorts,
      workDir: dir,
      disk,
      exited,
      serialLog: () => readFile(join(dir, 'serial.log'), 'utf8').catch(() => ''),
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    if (err instanceof QemuError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new QemuError('QemuMissing', 'qemu-system-x86_64, qemu-img or swtpm is not installed (run hack/guest-image-deps.sh)');
    throw err;
  }
}

/**
 * Local-cloud launcher that boots the image per instance: the agent's guest API port and workload port
 * map to the image's fixed ports through loopback host-forwards.
 */
export function qemuGuestLauncher(o: QemuGuestOptions & { onBoot?: (instanceId: string, guest: QemuGuest) => void }): GuestLauncher {
  return async (record, request) => {
    const guest = await startQemuGuest(o);
    o.onBoot?.(record.id, guest);
    return {
      ports: { [request.guestApiPort]: guest.hostPorts[o.ports.guestApi]!, [request.workload.port]: guest.hostPorts[o.ports.workload]! },
      close: () => guest.close(),
    };
  };
}
