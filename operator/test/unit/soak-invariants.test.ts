// The soak's invariant checks themselves: each one fires on the situation it exists for.
import { describe, expect, it } from 'vitest';
import { decryptsUnderAppraisedKey, decryptViolations, duplicateInstances, orphanInstances, staleHoldings, type AgentPlan, type AppraisalRecord, type DecryptRecord, type Holding, type InstanceRecord } from '../support/soak/invariants.ts';
import {
  attestedUnderFork,
  dishonestRefusals,
  forkedCheckpoints,
  forkRefusals,
  outageRefusals,
  passesOnExpiredCollateral,
  releasesUnderFork,
  type AgentSnapshot,
  type FaultWindow,
  type PolicySnapshot,
  type ServedCollateral,
} from '../support/soak/trust-invariants.ts';

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

  describe('trust material', () => {
    const parts = (at: number, nextUpdate: number): ServedCollateral[] => (['tcb', 'qe', 'pckcrl', 'rootcacrl'] as const).map((part) => ({ at, part, nextUpdate }));

    it('a pass with no unexpired collateral served for it is a violation; passes on fresh or still-cached collateral are not', () => {
      const served = [...parts(1000, 31_000), ...parts(40_000, 40_000 - 3_600_000)]; // fresh at 1 s (valid 30 s), then only expired ones
      expect(passesOnExpiredCollateral([{ agent: 'hw', at: 5000 }, { agent: 'hw', at: 30_000 }], served, 2000)).toEqual([]);
      // Fetched during the appraisal that verifiedAt dates (within the slack): fine.
      expect(passesOnExpiredCollateral([{ agent: 'hw', at: 500 }], served, 2000)).toEqual([]);
      const v = passesOnExpiredCollateral([{ agent: 'hw', at: 45_000 }], served, 2000);
      expect(v).toMatchObject([{ invariant: 'no-pass-on-expired-collateral', agent: 'hw' }]);
      expect(v[0]?.detail).toContain('tcb, qe, pckcrl, rootcacrl');
      // One part expired (the CRLs) is enough.
      const crlExpired = [...parts(1000, 31_000).filter((x) => x.part === 'tcb' || x.part === 'qe'), ...parts(1000, 10_000).filter((x) => x.part.endsWith('crl'))];
      expect(passesOnExpiredCollateral([{ agent: 'hw', at: 20_000 }], crlExpired, 0)[0]?.detail).toContain('pckcrl, rootcacrl');
    });

    it('refusals of genuine evidence: an evidence code is always dishonest, a collateral code only outside its fault window', () => {
      const windows: FaultWindow[] = [{ kind: 'pccs-outage', from: 10_000, to: 20_000 }, { kind: 'collateral-expiry', from: 50_000, to: 90_000 }];
      const ok = [
        { agent: 'a', reason: 'CollateralUnavailable', at: 15_000 },
        { agent: 'a', reason: 'CollateralUnavailable', at: 25_000 }, // within the lookback after the outage
        { agent: 'a', reason: 'TcbInfoExpired', at: 60_000 },
        { agent: 'a', reason: 'CrlExpired', at: 95_000 },
        { agent: 'a', reason: 'PolicyNotReady', at: 5000 }, // not a TDX code: not judged here
      ];
      expect(dishonestRefusals(ok, windows, 10_000)).toEqual([]);
      const bad = [
        { agent: 'b', reason: 'QuoteSignatureInvalid', at: 15_000 }, // an outage misreported as a forged quote
        { agent: 'c', reason: 'TcbInfoExpired', at: 15_000 }, // an outage is not expiry
        { agent: 'd', reason: 'CollateralUnavailable', at: 40_000 }, // no fault at all
      ];
      expect(dishonestRefusals(bad, windows, 10_000).map((v) => [v.invariant, v.agent])).toEqual([['honest-refusal', 'b'], ['honest-refusal', 'c'], ['honest-refusal', 'd']]);
    });

    it('a published checkpoint that is not the genuine root at its size is a violation', () => {
      const genuine = (policy: string, size: number) => (policy === 'hw-fork' && size <= 7 ? `root-${size}` : undefined);
      expect(forkedCheckpoints([{ policy: 'hw-fork', treeSize: 5, rootHash: 'root-5', at: 1 }], genuine)).toEqual([]);
      const v = forkedCheckpoints([{ policy: 'hw-fork', treeSize: 5, rootHash: 'forked', at: 1 }, { policy: 'hw-fork', treeSize: 9, rootHash: 'root-9', at: 2 }], genuine);
      expect(v.map((x) => [x.invariant, x.detail.includes('size 9') ? 9 : 5])).toEqual([['no-forked-checkpoint', 5], ['no-forked-checkpoint', 9]]);
    });

    const forked: PolicySnapshot = { name: 'hw-fork', resolved: { status: 'False', reason: 'LogInconsistent', lastTransitionTime: '2026-12-04T15:00:00Z' }, hasValues: false };
    const agent = (over: Partial<AgentSnapshot>): AgentSnapshot => ({ name: 'hw-0', policy: 'hw-fork', attested: { status: 'False', reason: 'PolicyNotReady' }, ready: 'False', ...over });

    it('during a fork the policy must be refused LogInconsistent without values, and its agents PolicyNotReady', () => {
      const must = new Set(['hw-0', 'other']);
      const provisioning = agent({ name: 'hw-9', attested: { status: 'False', reason: 'WaitingForInstance' } }); // not Ready when the fork began
      expect(forkRefusals(forked, [agent({}), provisioning, agent({ name: 'other', policy: 'hw-steady', attested: { status: 'True', reason: 'Affirming' }, ready: 'True' })], must, 1)).toEqual([]);
      expect(forkRefusals({ ...forked, resolved: { status: 'True', reason: 'Resolved' }, hasValues: true }, [], must, 1)).toMatchObject([{ invariant: 'fork-refused', agent: 'hw-fork' }]);
      expect(forkRefusals(forked, [agent({ attested: { status: 'True', reason: 'Affirming' }, ready: 'True' })], must, 1)).toMatchObject([{ invariant: 'fork-refused', agent: 'hw-0' }]);
    });

    it('an appraisal dated after the policy went LogInconsistent (past the grace) is a violation', () => {
      const passed = (verifiedAt: string) => agent({ attested: { status: 'True', reason: 'Affirming' }, ready: 'True', verifiedAt });
      expect(attestedUnderFork(forked, [passed('2026-12-04T15:00:03Z')], 5000, 1)).toEqual([]);
      expect(attestedUnderFork({ ...forked, resolved: { status: 'True', reason: 'Resolved' } }, [passed('2026-12-04T15:01:00Z')], 5000, 1)).toEqual([]);
      expect(attestedUnderFork(forked, [passed('2026-12-04T15:00:30Z')], 5000, 1)).toMatchObject([{ invariant: 'no-attestation-under-forked-log', agent: 'hw-0' }]);
    });

    it('a guest of the forked policy decrypting while the policy was seen LogInconsistent is a violation', () => {
      const d = (agentName: string, at: number) => ({ agent: agentName, at, resourcePath: 'default/local-resources/x' });
      const intervals = [{ from: 10_000, to: 30_000 }];
      expect(releasesUnderFork([d('hw-0', 12_000), d('hw-0', 31_000), d('hw-1', 20_000)], new Set(['hw-0']), intervals, 5000)).toEqual([]);
      expect(releasesUnderFork([d('hw-0', 20_000)], new Set(['hw-0']), intervals, 5000)).toMatchObject([{ invariant: 'nothing-released-under-forked-log', agent: 'hw-0' }]);
    });

    it('collateral refusals by a warm, stable leader during a PCCS outage are a violation; a cold or changed leader may refuse', () => {
      const rec = { at: 1, leader: 'replica-0', warm: true, stable: true, overlapped: false, tdxPasses: 3, collateralFailures: 0 };
      expect(outageRefusals([rec, { ...rec, warm: false, collateralFailures: 2 }, { ...rec, stable: false, collateralFailures: 2 }, { ...rec, overlapped: true, collateralFailures: 1 }])).toEqual([]);
      expect(outageRefusals([{ ...rec, collateralFailures: 1 }])).toMatchObject([{ invariant: 'cached-collateral-keeps-attesting', agent: 'replica-0' }]);
    });
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
