// The soak's invariant checks themselves: each one fires on the situation it exists for.
import { describe, expect, it } from 'vitest';
import { decryptsUnderAppraisedKey, decryptViolations, duplicateInstances, orphanInstances, staleHoldings, type AgentPlan, type AppraisalRecord, type DecryptRecord, type Holding, type InstanceRecord } from '../support/soak/invariants.ts';

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

  it('a hostile KBS guest released anything but its (genuinely attested) bootstrap is a violation', () => {
    const plans = new Map<string, AgentPlan>([['kh', { name: 'kh', kind: 'kbs-hostile', allowed: new Set(['boot']) }]]);
    const d = (resourcePath: string, via: 'injected' | 'fetched') => ({ at: 1, instanceId: 'i', agent: 'kh', agentUid: 'u', resourcePath, via });
    expect(decryptViolations([d('boot', 'injected')], plans)).toEqual([]);
    const v = decryptViolations([d('default/r/kh', 'fetched')], plans);
    expect(v).toHaveLength(1);
    expect(v[0]?.detail).toContain('hostile KBS guest was released');
  });

  describe('decrypts under a key a passing appraisal bound, in the current boot', () => {
    const dec = (at: number, teeKey: string | undefined, instanceId = 'i1'): DecryptRecord => ({ at, instanceId, agent: 'a', agentUid: 'u', resourcePath: 'r', via: 'injected', ...(teeKey ? { teeKey } : {}) });
    const appr = (at: number, teeKey: string, over: Partial<AppraisalRecord> = {}): AppraisalRecord => ({ at, instanceId: 'i1', agent: 'a', teeKey, via: 'challenge', passed: true, bound: true, ...over });
    const boots = new Map([['i1', [0, 100]]]); // booted at 0, rebooted at 100

    it('holds for a key appraised (bound, passed) after the last boot and before the decrypt', () => {
      expect(decryptsUnderAppraisedKey([dec(50, 'k1'), dec(150, 'k2')], [appr(40, 'k1'), appr(140, 'k2', { via: 'kbs' })], boots)).toEqual([]);
    });
    it.each([
      ['no appraisal bound this key', [dec(150, 'k9')], [appr(140, 'k2')]],
      ['predates the guest\'s boot', [dec(150, 'k1')], [appr(40, 'k1')]],
      ['did not bind this key', [dec(150, 'k2')], [appr(140, 'k2', { bound: false })]],
      ['did not pass', [dec(150, 'k2')], [appr(140, 'k2', { passed: false })]],
      ['no appraisal bound this key', [dec(150, 'k2', 'i2')], [appr(140, 'k2')]],
      ['no appraisal bound this key', [dec(130, 'k2')], [appr(140, 'k2')]],
      ['did not log its TEE key', [dec(150, undefined)], [appr(140, 'k2')]],
    ] as Array<[string, DecryptRecord[], AppraisalRecord[]]>)('fires: %s', (why, decrypts, appraisals) => {
      const v = decryptsUnderAppraisedKey(decrypts, appraisals, boots);
      expect(v).toHaveLength(1);
      expect(v[0]).toMatchObject({ invariant: 'decrypt-under-appraised-key', agent: 'a' });
      expect(v[0]?.detail).toContain(why);
    });
  });

  it('a guest holding an older value of a rotated credential (or nothing) is a violation, named by version tag only', () => {
    const h = (gotDigest: string | undefined, gotTag?: string): Holding => ({ agent: 'a', mode: 'KBS', credential: 'c', resourcePath: 'default/r/c', wantTag: 'v2', wantDigest: 'd2', gotDigest, gotTag });
    expect(staleHoldings([h('d2', 'v2')], 1)).toEqual([]);
    const v = staleHoldings([h('d1', 'v1'), h(undefined)], 1);
    expect(v.map((x) => x.detail)).toEqual(['KBS c at default/r/c: guest holds version v1, latest is v2', 'KBS c at default/r/c: guest holds nothing, latest is v2']);
    expect(v[0]?.invariant).toBe('latest-value-delivered');
  });
});
