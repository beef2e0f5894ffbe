import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.ts';

/** A fake clock whose sleep advances time, so the bucket's waits are measured, not slept. */
function fakeClock() {
  let t = 1_000_000;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    slept,
    get t() {
      return t;
    },
  };
}

describe('TokenBucket', () => {
  it('grants the burst at once, then one token per 1/rate seconds', async () => {
    const c = fakeClock();
    const b = new TokenBucket({ ratePerSecond: 4, now: c.now, sleep: c.sleep });
    const start = c.t;
    for (let i = 0; i < 4; i++) await b.take();
    expect(c.t).toBe(start);
    for (let i = 0; i < 8; i++) await b.take();
    expect(c.t - start).toBe(2000);
  });

  it('after throttling pauses, drops the burst and halves the rate; successes recover it', async () => {
    const c = fakeClock();
    const b = new TokenBucket({ ratePerSecond: 8, now: c.now, sleep: c.sleep });
    b.throttled(500);
    expect(b.currentRate).toBe(4);
    const start = c.t;
    await b.take();
    expect(c.t - start).toBeGreaterThanOrEqual(500 + 250); // pause, then 1 token at 4/s
    b.throttled(0);
    b.throttled(0);
    b.throttled(0);
    b.throttled(0);
    expect(b.currentRate).toBe(0.5); // floor: rate / 16
    for (let i = 0; i < 30; i++) b.succeeded();
    expect(b.currentRate).toBe(8);
  });

  it('rejects a non-positive rate', () => {
    expect(() => new TokenBucket({ ratePerSecond: 0 })).toThrow(RangeError);
    expect(() => new TokenBucket({ ratePerSecond: Number.NaN })).toThrow(/ratePerSecond/);
  });
});
