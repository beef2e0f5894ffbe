// `cai operator`: run the operator (the container entrypoint).
import { ConfigError, OPERATOR_USAGE, parseOperatorConfig } from '../../app/config.ts';
import { startOperator } from '../../app/operator.ts';
import { createLogger } from '../../runtime/logging.ts';
import type { CliCommand } from '../command.ts';

export const command: CliCommand = {
  path: ['operator'],
  summary: 'run the operator (controllers, KBS, metrics)',
  usage: OPERATOR_USAGE,
  async run(args, io) {
    let config;
    try {
      config = parseOperatorConfig(args, io.env);
    } catch (err) {
      if (err instanceof ConfigError) {
        io.stderr(`cai operator: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    const logger = createLogger({ level: config.logLevel, base: { component: 'operator' } });
    const handle = await startOperator(config, { logger });
    await new Promise<void>((resolve) => {
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'shutting down');
        resolve();
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });
    await handle.stop();
    return 0;
  },
};
