import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { handleShutdownSignals } from './shutdown.ts';

const logger = pino({ level: 'silent' });
const flush = () => new Promise((r) => setTimeout(r, 10));

describe('handleShutdownSignals', () => {
  it('stops gracefully on the first signal and exits 0', async () => {
    const exits: number[] = [];
    let stopped = 0;
    const off = handleShutdownSignals(async () => void stopped++, { logger, signals: ['SIGUSR2'], exit: (c) => exits.push(c) });
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      await flush();
      expect(stopped).toBe(1);
      expect(exits).toEqual([0]);
    } finally {
      off();
    }
  });

  it('exits 1 at once on a second signal while stopping, and 1 when stop fails', async () => {
    const exits: number[] = [];
    let release: () => void = () => undefined;
    const off = handleShutdownSignals(() => new Promise<void>((r) => (release = r)), { logger, signals: ['SIGUSR2'], exit: (c) => exits.push(c) });
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(exits).toEqual([1]);
      release();
      await flush();
      expect(exits).toEqual([1, 0]);
    } finally {
      off();
    }
    const exits2: number[] = [];
    const off2 = handleShutdownSignals(() => Promise.reject(new Error('boom')), { logger, signals: ['SIGUSR2'], exit: (c) => exits2.push(c) });
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      await flush();
      expect(exits2).toEqual([1]);
    } finally {
      off2();
    }
  });

  it('forces exit 1 when the graceful stop overruns', async () => {
    const exits: number[] = [];
    const off = handleShutdownSignals(() => new Promise<void>(() => undefined), { logger, signals: ['SIGUSR2'], exit: (c) => exits.push(c), forceAfterMs: 30 });
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      await new Promise((r) => setTimeout(r, 80));
      expect(exits).toEqual([1]);
    } finally {
      off();
    }
  });
});
