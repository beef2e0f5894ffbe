import { describe, expect, it } from 'vitest';
import { ensureConditions, getCondition, isTrue, normalizeReason, removeCondition, setCondition } from './conditions.ts';

const t0 = new Date('2026-01-02T03:04:05.678Z');
const t1 = new Date('2026-01-02T03:09:00.000Z');

describe('setCondition', () => {
  it('adds a new condition with lastTransitionTime at second precision and observedGeneration', () => {
    const c = setCondition(undefined, { type: 'Ready', status: 'Unknown', reason: 'Reconciling', message: 'first visit' }, 3, t0);
    expect(c).toEqual([{ type: 'Ready', status: 'Unknown', reason: 'Reconciling', message: 'first visit', lastTransitionTime: '2026-01-02T03:04:05Z', observedGeneration: 3 }]);
  });

  it('keeps lastTransitionTime when the status is unchanged but updates reason, message, generation', () => {
    const a = setCondition([], { type: 'Ready', status: 'False', reason: 'Waiting', message: 'a' }, 1, t0);
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'StillWaiting', message: 'b' }, 2, t1);
    expect(b[0]).toMatchObject({ reason: 'StillWaiting', message: 'b', observedGeneration: 2, lastTransitionTime: '2026-01-02T03:04:05Z' });
  });

  it('moves lastTransitionTime when the status changes', () => {
    const a = setCondition([], { type: 'Ready', status: 'False', reason: 'Waiting', message: '' }, 1, t0);
    const b = setCondition(a, { type: 'Ready', status: 'True', reason: 'Ready', message: '' }, 1, t1);
    expect(b[0]?.lastTransitionTime).toBe('2026-01-02T03:09:00Z');
  });

  it('does not modify its input and preserves the order of other conditions', () => {
    const a = setCondition(setCondition([], { type: 'A', status: 'True', reason: 'R', message: '' }, 1, t0), { type: 'B', status: 'True', reason: 'R', message: '' }, 1, t0);
    const frozen = JSON.stringify(a);
    const b = setCondition(a, { type: 'A', status: 'False', reason: 'R', message: '' }, 1, t1);
    expect(JSON.stringify(a)).toBe(frozen);
    expect(b.map((c) => c.type)).toEqual(['A', 'B']);
  });

  it('omits observedGeneration when the generation is unknown', () => {
    const c = setCondition([], { type: 'Ready', status: 'True', reason: 'Ok', message: '' }, undefined, t0);
    expect(c[0]).not.toHaveProperty('observedGeneration');
  });

  it('rejects an empty type or a status outside True/False/Unknown', () => {
    expect(() => setCondition([], { type: '', status: 'True', reason: 'R', message: '' }, 1, t0)).toThrow(/non-empty/);
    // @ts-expect-error: wrong status on purpose
    expect(() => setCondition([], { type: 'Ready', status: 'Yes', reason: 'R', message: '' }, 1, t0)).toThrow(/True, False or Unknown.*Yes/);
  });

  it('caps the message at the metav1 limit', () => {
    const c = setCondition([], { type: 'X', status: 'True', reason: 'R', message: 'm'.repeat(40000) }, 1, t0);
    expect(c[0]?.message.length).toBe(32768);
  });
});

describe('normalizeReason', () => {
  it('keeps valid reasons and maps invalid characters so the API server accepts the write', () => {
    expect(normalizeReason('InstanceRunning')).toBe('InstanceRunning');
    expect(normalizeReason('TDX_QUOTE.BAD_SIG')).toBe('TDX_QUOTE_BAD_SIG');
    expect(normalizeReason('404 not found')).toBe('not_found');
    expect(normalizeReason('...')).toBe('Unspecified');
    expect(normalizeReason('')).toBe('Unspecified');
    expect(normalizeReason('a:')).toBe('a');
  });
});

describe('ensureConditions / getCondition / isTrue / removeCondition', () => {
  it('adds only missing types as Unknown', () => {
    const a = setCondition([], { type: 'Provisioned', status: 'True', reason: 'Running', message: '' }, 1, t0);
    const b = ensureConditions(a, ['Ready', 'Provisioned'], 1, t1);
    expect(b.map((c) => [c.type, c.status])).toEqual([
      ['Provisioned', 'True'],
      ['Ready', 'Unknown'],
    ]);
    expect(isTrue(b, 'Provisioned')).toBe(true);
    expect(isTrue(b, 'Ready')).toBe(false);
    expect(isTrue(undefined, 'Ready')).toBe(false);
    expect(getCondition(b, 'Ready')?.reason).toBe('Reconciling');
    expect(removeCondition(b, 'Ready').map((c) => c.type)).toEqual(['Provisioned']);
  });
});
