// `cai local-cloud`: run the local cloud API on its own (so simulated instances survive operator
// restarts, as cloud instances do). Prints its URL on stdout once listening.
import { parseArgs } from 'node:util';
import { startLocalCloud } from '../../sim/local/cloud-server.ts';
import { workloadGuestLauncher } from '../../sim/local/guest-launcher.ts';
import { createLogger } from '../../runtime/logging.ts';
import type { CliCommand } from '../command.ts';

export const command: CliCommand = {
  path: ['local-cloud'],
  summary: 'run the local cloud that hosts simulated TEE instances',
  usage: 'Usage: cai local-cloud [--host 127.0.0.1] [--port 0]\n  Prints the API URL, then serves until SIGTERM/SIGINT.',
  async run(args, io) {
    let values: { host?: string; port?: string };
    try {
      values = parseArgs({ args, options: { host: { type: 'string' }, port: { type: 'string' } }, strict: true }).values;
    } catch (err) {
      io.stderr(`cai local-cloud: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }
    const port = Number(values.port ?? '0');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      io.stderr(`cai local-cloud: --port must be 0-65535, got '${values.port ?? ''}'\n`);
      return 2;
    }
    const host = values.host ?? '127.0.0.1';
    const logger = createLogger({ level: io.env.LOG_LEVEL ?? 'info', base: { component: 'local-cloud' } });
    const cloud = await startLocalCloud({ host, port, launchGuest: workloadGuestLauncher(host), logger });
    io.stdout(`${cloud.url}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    await cloud.close();
    return 0;
  },
};
