import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { errorText } from './error-text.ts';

describe('errorText', () => {
  it('names the cause of a failed fetch (an API server that is down)', async () => {
    // A port that was just free: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const err = await fetch(`http://127.0.0.1:${port}/api`).catch((e: unknown) => e);
    expect(errorText(err)).toBe(`fetch failed (connect ECONNREFUSED 127.0.0.1:${port})`);
  });

  it('plain errors, chains and non-errors', () => {
    expect(errorText(new Error('boom'))).toBe('boom');
    expect(errorText(new Error('a', { cause: new Error('b', { cause: new Error('c') }) }))).toBe('a (b: c)');
    expect(errorText(new Error('same', { cause: new Error('same') }))).toBe('same');
    expect(errorText('text')).toBe('text');
    const deep = Array.from({ length: 10 }, (_, i) => i).reduceRight<Error | undefined>((cause, i) => new Error(`e${i}`, cause ? { cause } : undefined), undefined)!;
    expect(errorText(deep)).toBe('e0 (e1: e2: e3)');
  });
});
