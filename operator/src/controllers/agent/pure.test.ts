import { describe, expect, it } from 'vitest';
import type { Condition } from '../../api/common.ts';
import { findOrphans } from '../garbage-collector.ts';
import { metadataOrSpecChanged } from '../predicates.ts';
import { instanceToken } from './instance-token.ts';
import { summariseReady } from './phase.ts';

const LIFECYCLE = [{ condition: 'Provisioned' }, { condition: 'Attested' }, { condition: 'CredentialsReleased' }];

const cond = (type: string, status: Condition['status'], reason = 'R'): Condition => ({ type, status, reason, message: `${type} ${status}`, lastTransitionTime: '2026-01-01T00:00:00Z' });

describe('instanceToken', () => {
  it('is deterministic, key-order independent and fits an Alibaba ClientToken', () => {
    const a = instanceToken('uid-1', { local: { bootDelaySeconds: 1 }, x: [1, 2] });
    const b = instanceToken('uid-1', { x: [1, 2], local: { bootDelaySeconds: 1 } });
    expect(a).toBe(b);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(a).toMatch(/^[\x21-\x7e]+$/);
  });
  it('changes with the UID or the spec', () => {
    const base = instanceToken('uid-1', { local: { bootDelaySeconds: 1 } });
    expect(instanceToken('uid-2', { local: { bootDelaySeconds: 1 } })).not.toBe(base);
    expect(instanceToken('uid-1', { local: { bootDelaySeconds: 2 } })).not.toBe(base);
  });
});

describe('summariseReady', () => {
  it('is True only when every lifecycle step is True', () => {
    expect(summariseReady(LIFECYCLE, [cond('Provisioned', 'True'), cond('Attested', 'True'), cond('CredentialsReleased', 'True')]).status).toBe('True');
  });
  it('carries the reason of the first step that is not True', () => {
    const r = summariseReady(LIFECYCLE, [cond('Provisioned', 'True'), cond('Attested', 'False', 'EvidenceRejected'), cond('CredentialsReleased', 'False', 'NotAttested')]);
    expect(r).toMatchObject({ status: 'False', reason: 'EvidenceRejected' });
    expect(r.message).toContain('Attested');
  });
  it('is Unknown while a step has not been evaluated', () => {
    expect(summariseReady(LIFECYCLE, [cond('Provisioned', 'True')]).status).toBe('Unknown');
  });
});

describe('findOrphans', () => {
  const owner = (uid: string) => ({ clusterId: 'c', namespace: 'n', name: 'a', uid });
  const now = Date.parse('2026-01-01T01:00:00Z');
  it('selects owned instances whose owner UID is gone and that are old enough', () => {
    const instances = [
      { id: 'live', state: 'Running' as const, owner: owner('u1'), createdAt: '2026-01-01T00:00:00Z' },
      { id: 'orphan', state: 'Running' as const, owner: owner('u2'), createdAt: '2026-01-01T00:00:00Z' },
      { id: 'young', state: 'Pending' as const, owner: owner('u3'), createdAt: '2026-01-01T00:59:50Z' },
      { id: 'deleted', state: 'Deleted' as const, owner: owner('u4'), createdAt: '2026-01-01T00:00:00Z' },
    ];
    expect(findOrphans(instances, new Set(['u1']), 30_000, now).map((i) => i.id)).toEqual(['orphan']);
  });
});

describe('metadataOrSpecChanged', () => {
  const obj = (generation: number, extra: Record<string, unknown> = {}) => ({ metadata: { name: 'a', generation, resourceVersion: String(Math.random()), ...extra }, status: { x: Math.random() } });
  it('drops status-only updates and keeps spec, finalizer, deletion and resync updates', () => {
    const a = obj(1);
    expect(metadataOrSpecChanged(a, obj(1))).toBe(false);
    expect(metadataOrSpecChanged(a, obj(2))).toBe(true);
    expect(metadataOrSpecChanged(a, obj(1, { finalizers: ['f'] }))).toBe(true);
    expect(metadataOrSpecChanged(a, obj(1, { deletionTimestamp: '2026-01-01T00:00:00Z' }))).toBe(true);
    expect(metadataOrSpecChanged(a, a)).toBe(true);
    expect(metadataOrSpecChanged(undefined, a)).toBe(true);
  });
});
