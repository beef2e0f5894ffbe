// `cai operator` for the soak's hardware agents: the same configuration parsing and lifecycle, started with the
// test PKI's Intel root as trust anchor (app/verifiers.ts TrustAnchors). The operator deliberately has no flag
// for that, so tests that need it in a separate (killable) process start it through this file instead of the
// CLI. Usage: node anchored-operator.ts operator <cai operator flags>; CAI_TEST_TRUST_ANCHORS names a JSON file
// {"intelRootCaPem": "..."}.
import { readFileSync } from 'node:fs';
import { ConfigError, parseOperatorConfig } from '../../../src/app/config.ts';
import { startOperator } from '../../../src/app/operator.ts';
import type { TrustAnchors } from '../../../src/app/verifiers.ts';
import { createLogger } from '../../../src/runtime/logging.ts';

async function main(args: string[]): Promise<number> {
  const file = process.env.CAI_TEST_TRUST_ANCHORS;
  if (!file) throw new Error('CAI_TEST_TRUST_ANCHORS must name a trust-anchors JSON file');
  const anchors = JSON.parse(readFileSync(file, 'utf8')) as TrustAnchors;
  let config;
  try {
    config = parseOperatorConfig(args[0] === 'operator' ? args.slice(1) : args, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`anchored-operator: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, base: { component: 'operator' } });
  const handle = await startOperator(config, { logger, trustAnchors: anchors });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await handle.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    process.stderr.write(`anchored-operator: ${err instanceof Error ? err.message : String(err)}${cause}\n`);
    process.exitCode = 1;
  },
);
