import { describe, expect, it } from 'vitest';
import { jsonEqual } from './json-equal.ts';
import { isEmptyPatch, mergePatch } from './merge-patch.ts';

describe('jsonEqual', () => {
  it('ignores object key order and undefined members, not array order', () => {
    expect(jsonEqual({ a: 1, b: { c: [1, { d: 2, e: 3 }] } }, { b: { c: [1, { e: 3, d: 2 }] }, a: 1, z: undefined })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(jsonEqual({ a: '1' }, { a: 1 })).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
  });
  it('lets a status whose conditions were built in another key order produce an empty merge patch', () => {
    const stored = { conditions: [{ type: 'Ready', status: 'True', reason: 'R', message: 'm', lastTransitionTime: 't' }], observedGeneration: 1 };
    const rebuilt = { observedGeneration: 1, conditions: [{ lastTransitionTime: 't', message: 'm', reason: 'R', status: 'True', type: 'Ready' }] };
    expect(JSON.stringify(stored)).not.toBe(JSON.stringify(rebuilt));
    expect(isEmptyPatch(mergePatch(stored, rebuilt))).toBe(true);
    expect(isEmptyPatch(mergePatch(stored, { ...rebuilt, observedGeneration: 2 }))).toBe(false);
  });
});
