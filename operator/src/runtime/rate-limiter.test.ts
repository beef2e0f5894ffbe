import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/manual-clock.ts';
import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  defaultControllerRateLimiter,
} from './rate-limiter.ts';

describe('ItemExponentialFailureRateLimiter', () => {
  it('doubles per failure from the base and caps at the max', () => {
    const l = new ItemExponentialFailureRateLimiter<string>(5, 1000);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map(() => l.when('a'))).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1000]);
    expect(l.numRequeues('a')).toBe(9);
    expect(l.when('b')).toBe(5);
  });

  it('forget resets one item only', () => {
    const l = new ItemExponentialFailureRateLimiter<string>(1, 100);
    l.when('a');
    l.when('a');
    l.when('b');
    l.forget('a');
    expect(l.numRequeues('a')).toBe(0);
    expect(l.when('a')).toBe(1);
    expect(l.numRequeues('b')).toBe(1);
  });

  it('never overflows to Infinity or NaN after very many failures', () => {
    const l = new ItemExponentialFailureRateLimiter<string>(5, 1_000_000);
    let last = 0;
    for (let i = 0; i < 2000; i++) last = l.when('x');
    expect(last).toBe(1_000_000);
  });

  it('rejects nonsense parameters', () => {
    expect(() => new ItemExponentialFailureRateLimiter(0, 10)).toThrow(/baseDelayMs/);
    expect(() => new ItemExponentialFailureRateLimiter(10, 5)).toThrow(RangeError);
  });
});

describe('BucketRateLimiter', () => {
  it('lets a burst through, then paces at qps', () => {
    const clock = new ManualClock(1_000);
    const l = new BucketRateLimiter<string>(10, 3, clock);
    expect([l.when('a'), l.when('b'), l.when('c')]).toEqual([0, 0, 0]);
    expect(l.when('d')).toBeCloseTo(100);
    expect(l.when('e')).toBeCloseTo(200);
    clock.advance(200);
    // two tokens refilled, both already reserved by d and e: the next waits one interval
    expect(l.when('f')).toBeCloseTo(100);
  });

  it('refills up to the burst only', () => {
    const clock = new ManualClock();
    const l = new BucketRateLimiter<string>(10, 2, clock);
    l.when('a');
    l.when('a');
    clock.advance(60_000);
    expect([l.when('a'), l.when('a')]).toEqual([0, 0]);
    expect(l.when('a')).toBeCloseTo(100);
  });
});

describe('MaxOfRateLimiter / default controller limiter', () => {
  it('takes the longest delay and forgets in all limiters', () => {
    const clock = new ManualClock();
    const l = new MaxOfRateLimiter<string>(new ItemExponentialFailureRateLimiter(5, 1000), new BucketRateLimiter(1, 1, clock));
    expect(l.when('a')).toBe(5); // bucket had one token
    expect(l.when('a')).toBeCloseTo(1000); // bucket empty: 1 s beats 10 ms
    expect(l.numRequeues('a')).toBe(2);
    l.forget('a');
    expect(l.numRequeues('a')).toBe(0);
  });

  it('matches client-go defaults: 5 ms first retry, 100 burst at 10 qps', () => {
    const clock = new ManualClock();
    const l = defaultControllerRateLimiter<string>(clock);
    expect(l.when('k')).toBe(5);
    for (let i = 0; i < 99; i++) l.when(`other-${i}`);
    // bucket now empty: the 101st retry overall waits 100 ms even though 'fresh' never failed
    expect(l.when('fresh')).toBeCloseTo(100);
  });
});
