// Graceful shutdown on SIGTERM/SIGINT: the first signal stops the manager (drain, release the lease)
// and exits 0; a second signal, or a stop that overruns forceAfterMs, exits 1 at once.

import type { Logger } from 'pino';

export interface ShutdownOptions {
  logger: Logger;
  signals?: NodeJS.Signals[];
  forceAfterMs?: number;
  exit?: (code: number) => void;
}

/** Installs the handlers; returns a function that removes them. */
export function handleShutdownSignals(stop: () => Promise<void>, opts: ShutdownOptions): () => void {
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      opts.logger.warn({ signal: sig }, 'second signal: exiting immediately');
      exit(1);
      return;
    }
    stopping = true;
    opts.logger.info({ signal: sig }, 'shutting down gracefully');
    const force = setTimeout(() => {
      opts.logger.error('graceful shutdown overran; exiting');
      exit(1);
    }, opts.forceAfterMs ?? 45_000);
    force.unref();
    stop().then(
      () => {
        clearTimeout(force);
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(force);
        opts.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
