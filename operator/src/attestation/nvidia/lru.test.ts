import { describe, expect, it } from 'vitest';
import { LruCache } from './lru.ts';

describe('LruCache', () => {
  it('evicts the least recently used entry; a get or a re-set makes an entry the most recent', () => {
    const c = new LruCache<string, number>(2);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1);
    c.set('c', 3);
    expect([...c.values()]).toEqual([1, 3]);
    expect(c.get('b')).toBeUndefined();
    c.set('a', 10);
    c.set('d', 4);
    expect(c.get('c')).toBeUndefined();
    expect([...c.values()]).toEqual([10, 4]);
    expect(c.size).toBe(2);
  });

  it('holds exactly max entries, deletes on request, and never loops on a non-positive max', () => {
    const c = new LruCache<number, number>(3);
    for (let i = 0; i < 3; i++) c.set(i, i);
    expect(c.size).toBe(3);
    c.delete(1);
    expect([...c.values()]).toEqual([0, 2]);
    c.delete(99);
    expect(c.size).toBe(2);
    // A missing key's get does not change the order.
    expect(c.get(7)).toBeUndefined();
    c.set(3, 3);
    c.set(4, 4);
    expect([...c.values()]).toEqual([2, 3, 4]);
    const none = new LruCache<string, number>(0);
    none.set('x', 1);
    expect(none.size).toBe(0);
    const negative = new LruCache<string, number>(-1);
    negative.set('x', 1);
    expect(negative.size).toBe(0);
  });
});
