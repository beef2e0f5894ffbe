import { describe, expect, it } from 'vitest';
import { applyMergePatch, mergePatch } from './merge-patch.ts';

describe('mergePatch', () => {
  it('nulls removed keys at every depth and replaces arrays whole', () => {
    const from = { a: 1, gone: 'x', nested: { keep: 1, drop: 2 }, list: [1, 2, 3] };
    const to = { a: 1, nested: { keep: 1 }, list: [1, 2], added: { x: true } };
    const patch = mergePatch(from, to);
    expect(patch).toEqual({ gone: null, nested: { drop: null }, list: [1, 2], added: { x: true } });
    expect(applyMergePatch(from, patch)).toEqual(to);
  });
  it('is empty when nothing changed and ignores undefined values', () => {
    expect(mergePatch({ a: { b: [1] } }, { a: { b: [1] }, c: undefined })).toEqual({});
  });
  it('round-trips: applying the patch always yields the target', () => {
    const cases: Array<[unknown, unknown]> = [
      [{}, { a: 1 }],
      [{ a: { b: { c: 1 } } }, { a: 'scalar' }],
      [{ a: 'scalar' }, { a: { b: 1 } }],
      [{ a: [{ x: 1 }] }, { a: [] }],
    ];
    for (const [from, to] of cases) expect(applyMergePatch(from, mergePatch(from, to))).toEqual(to);
  });
});

describe('stripManagedFields', () => {
  it('drops managedFields and keeps the rest of metadata', async () => {
    const { stripManagedFields } = await import('./informer.ts');
    const obj = { metadata: { name: 'a', resourceVersion: '7', managedFields: [{ manager: 'x' }] }, spec: { a: 1 } };
    expect(stripManagedFields(obj)).toEqual({ metadata: { name: 'a', resourceVersion: '7' }, spec: { a: 1 } });
  });
});
