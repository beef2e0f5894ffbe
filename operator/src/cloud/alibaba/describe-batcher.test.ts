import { describe, expect, it } from 'vitest';
import { DescribeBatcher } from './describe-batcher.ts';

interface Item {
  instanceId?: string;
  region: string;
}

function batcher(fail?: (ids: string[]) => boolean) {
  const calls: Array<{ regionId: string; ids: string[] }> = [];
  const b = new DescribeBatcher<Item>({
    fetch: (regionId, ids) => {
      calls.push({ regionId, ids });
      if (fail?.(ids)) return Promise.reject(new Error('Throttling.User'));
      // The region knows every id except those ending in 'x'; it also returns an item without an id.
      return Promise.resolve([...ids.filter((id) => !id.endsWith('x')).map((id) => ({ instanceId: id, region: regionId })), { region: regionId }]);
    },
    idOf: (i) => i.instanceId,
    windowMs: 5,
    maxIds: 100,
  });
  return { b, calls };
}

describe('DescribeBatcher', () => {
  it('answers 250 concurrent describes in one region with 3 calls of at most 100 ids, each to its own id', async () => {
    const { b, calls } = batcher();
    const ids = Array.from({ length: 250 }, (_, i) => `i-${i}`);
    const got = await Promise.all(ids.map((id) => b.describe('cn-beijing', id)));
    expect(calls.map((c) => c.ids.length)).toEqual([100, 100, 50]);
    expect(got.map((g) => g?.instanceId)).toEqual(ids);
  });

  it('shares one id between its waiters, answers undefined for an unknown id, and keeps regions apart', async () => {
    const { b, calls } = batcher();
    const [a1, a2, unknown, other] = await Promise.all([b.describe('r1', 'i-a'), b.describe('r1', 'i-a'), b.describe('r1', 'i-nox'), b.describe('r2', 'i-a')]);
    expect(a1).toEqual({ instanceId: 'i-a', region: 'r1' });
    expect(a2).toBe(a1);
    expect(unknown).toBeUndefined();
    expect(other?.region).toBe('r2');
    expect(calls).toEqual([
      { regionId: 'r1', ids: ['i-a', 'i-nox'] },
      { regionId: 'r2', ids: ['i-a'] },
    ]);
  });

  it('a failed call fails only its own ids; a later describe opens a new batch', async () => {
    const { b, calls } = batcher((ids) => ids.includes('i-0'));
    const results = await Promise.allSettled(Array.from({ length: 150 }, (_, i) => b.describe('r1', `i-${i}`)));
    expect(results.slice(0, 100).every((r) => r.status === 'rejected')).toBe(true);
    expect(results.slice(100).every((r) => r.status === 'fulfilled' && r.value !== undefined)).toBe(true);
    expect((await b.describe('r1', 'i-7'))?.instanceId).toBe('i-7');
    expect(calls).toHaveLength(3);
  });
});
