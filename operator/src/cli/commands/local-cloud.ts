// `cai local-cloud`: run the local cloud API on its own (so simulated instances survive operator
// restarts, as cloud instances do). Prints its URL on stdout once listening.
import { parseArgs } from 'node:util';
import { startLocalCloud } from '../../sim/local/cloud-server.ts';
import { workloadGuestLauncher } from '../../sim/local/guest-launcher.ts';
import { probeKvm, qemuGuestLauncher } from '../../sim/local/qemu.ts';
import { REPO_ROOT } from '../../image/build.ts';
import { loadProfile } from '../../image/profile.ts';
import { join } from 'node:path';
import { createLogger } from '../../runtime/logging.ts';
import type { CliCommand } from '../command.ts';

export const command: CliCommand = {
  path: ['local-cloud'],
  summary: 'run the local cloud that hosts simulated TEE instances',
  usage: [
    'Usage: cai local-cloud [--host 127.0.0.1] [--port 0] [--backend process|qemu] [--image guest-image/out/cai-dev.qcow2]',
    '  Prints the API URL, then serves until SIGTERM/SIGINT.',
    '  --backend process (default): each instance is the simulated guest as in-process servers.',
    '  --backend qemu: each instance boots the built dev image (make guest-image PROFILE=dev) in QEMU with',
    '                  OVMF + swtpm; KVM if it works here, TCG otherwise.',
  ].join('\n'),
  async run(args, io) {
    let values: { host?: string; port?: string; backend?: string; image?: string };
    try {
      values = parseArgs({ args, options: { host: { type: 'string' }, port: { type: 'string' }, backend: { type: 'string' }, image: { type: 'string' } }, strict: true }).values;
    } catch (err) {
      io.stderr(`cai local-cloud: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }
    const port = Number(values.port ?? '0');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      io.stderr(`cai local-cloud: --port must be 0-65535, got '${values.port ?? ''}'\n`);
      return 2;
    }
    const backend = values.backend ?? 'process';
    if (backend !== 'process' && backend !== 'qemu') {
      io.stderr(`cai local-cloud: --backend must be process or qemu, got '${backend}'\n`);
      return 2;
    }
    if (backend === 'process' && values.image) {
      io.stderr('cai local-cloud: --image needs --backend qemu\n');
      return 2;
    }
    const host = values.host ?? '127.0.0.1';
    const logger = createLogger({ level: io.env.LOG_LEVEL ?? 'info', base: { component: 'local-cloud' } });
    let launchGuest = workloadGuestLauncher(host);
    if (backend === 'qemu') {
      const profile = await loadProfile(join(REPO_ROOT, 'guest-image/profiles/dev.json'));
      if (profile.builder !== 'debian-host') throw new Error('dev profile must use the debian-host builder');
      const kvm = await probeKvm();
      logger.info({ accel: kvm.usable ? 'kvm' : 'tcg', reason: kvm.reason }, 'qemu backend accelerator');
      launchGuest = qemuGuestLauncher({
        image: values.image ?? join(REPO_ROOT, 'guest-image/out', `${profile.name}.qcow2`),
        ports: { guestApi: profile.rootfs.guestApiPort, workload: profile.rootfs.workloadPort, info: profile.rootfs.infoPort },
        accel: kvm.usable ? 'kvm' : 'tcg',
      });
    }
    const cloud = await startLocalCloud({ host, port, launchGuest, logger });
    io.stdout(`${cloud.url}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    await cloud.close();
    return 0;
  },
};
