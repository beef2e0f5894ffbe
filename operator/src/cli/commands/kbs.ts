// `cai kbs`: run the operator's KBS as its own process (the chart's separate KBS Deployment).
import { KBS_USAGE, parseKbsProcessConfig, startKbsProcess } from '../../app/kbs-process.ts';
import { ConfigError } from '../../app/config.ts';
import { createLogger } from '../../runtime/logging.ts';
import type { CliCommand } from '../command.ts';

export const command: CliCommand = {
  path: ['kbs'],
  summary: "run the operator's KBS 0.4.0 server as its own process",
  usage: KBS_USAGE,
  async run(args, io) {
    let config;
    try {
      config = parseKbsProcessConfig(args, io.env);
    } catch (err) {
      if (err instanceof ConfigError) {
        io.stderr(`cai kbs: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    const logger = createLogger({ level: config.logLevel, base: { component: 'kbs' } });
    const handle = await startKbsProcess(config, { logger });
    io.stdout(`kbs listening at ${handle.kbs.url}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    await handle.stop();
    return 0;
  },
};
