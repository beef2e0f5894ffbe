// The soak's invariant checks themselves: each one fires on the situation it exists for.
import { describe, expect, it } from 'vitest';
import { decryptViolations, duplicateInstances, orphanInstances, type AgentPlan, type InstanceRecord } from '../support/soak/invariants.ts';

const inst = (id: string, uid: string, live = true): InstanceRecord => ({ cloud: 'local', id, ownerUid: uid, ownerName: `a-${uid}`, createdAt: 1, live });

describe('soak invariants', () => {
  it('a second instance for one agent is a violation, even when the first was deleted', () => {
    expect(duplicateInstances([inst('i1', 'u1'), inst('i2', 'u2')])).toEqual([]);
    const v = duplicateInstances([inst('i1', 'u1', false), inst('i2', 'u1'), inst('i3', 'u2')]);
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({ invariant: 'instances-per-agent', agent: 'a-u1' });
    expect(v[0]?.detail).toContain('local:i1(deleted), local:i2');
  });

  it('a live instance whose agent is gone is an orphan; a deleted one is not', () => {
    expect(orphanInstances([inst('i1', 'u1'), inst('i2', 'gone', false)], new Set(['u1']), 5)).toEqual([]);
    expect(orphanInstances([inst('i1', 'u1'), inst('i2', 'gone')], new Set(['u1']), 5)).toMatchObject([{ invariant: 'no-orphans', detail: expect.stringContaining('i2') as string }]);
  });

  it('decrypts outside the allowed set are violations: hostile guests, out-of-scope paths, unknown agents', () => {
    const plans = new Map<string, AgentPlan>([
      ['good', { name: 'good', kind: 'good', allowed: new Set(['boot', 'cred-a']) }],
      ['evil', { name: 'evil', kind: 'hostile', allowed: new Set() }],
    ]);
    const d = (agent: string, resourcePath: string) => ({ at: 1, instanceId: 'i', agent, agentUid: 'u', resourcePath, via: 'injected' as const });
    expect(decryptViolations([d('good', 'boot'), d('good', 'cred-a')], plans)).toEqual([]);
    const v = decryptViolations([d('good', 'cred-b'), d('evil', 'boot'), d('stranger', 'cred-a')], plans);
    expect(v.map((x) => x.agent)).toEqual(['good', 'evil', 'stranger']);
    expect(v[0]?.detail).toContain('not in its scope');
    expect(v[1]?.detail).toContain('hostile guest decrypted');
  });
});
