import { describe, expect, it } from 'vitest';
import { AttestationPolicySpecSchema, type AttestationPolicySpec } from '../../api/attestation-policy.ts';
import type { JsonValue, VerifiedEvidence } from '../verifier.ts';
import { appraise, releaseDecision } from './appraise.ts';
import { releaseAllowed, statusOf, tierOf, emptyVector } from './trust-vector.ts';

const at = new Date('2026-11-21T12:00:00Z');
const hex = (b: number) => Buffer.alloc(48, b).toString('hex');
const policy = (p: object): AttestationPolicySpec => AttestationPolicySpecSchema.parse(p);
const sample: VerifiedEvidence = { tee: 'sample', teeClass: 'cpu', claims: { svn: '1', report_data: 'x', launch_digest: 'abcde', debug: false }, warnings: [] };
const tdx = (claims: Record<string, JsonValue> = {}): VerifiedEvidence => ({
  tee: 'tdx',
  teeClass: 'cpu',
  warnings: [],
  claims: { mr_td: hex(1), rtmr0: hex(2), rtmr1: hex(3), rtmr2: hex(4), rtmr3: hex(5), uki_digests: [hex(9)], tcb_status: 'UpToDate', advisory_ids: [], debug: false, event_log: 'verified', ...claims },
});
const nvidia = (claims: Record<string, JsonValue> = {}): VerifiedEvidence => ({
  tee: 'nvidia',
  teeClass: 'gpu',
  warnings: [],
  claims: { gpu_count: 1, gpus: [], driver_versions: ['550.90.07'], vbios_versions: ['96.00.5E.00.01'], ...claims },
});
const pinned = { tdx: { referenceValues: { inline: { mrtd: [hex(1)], ukiSha384: [hex(9)], rtmr1: [hex(3)] } } } };
const codes = (a: ReturnType<typeof appraise>) => a.reasons.map((r) => r.code);

describe('trust vector tiers', () => {
  it('maps AR4SI values to tiers and takes the worst', () => {
    expect([-1, 0, 1, 2, 31, 32, 95, 96, 127].map(tierOf)).toEqual(['none', 'none', 'none', 'affirming', 'affirming', 'warning', 'warning', 'contraindicated', 'contraindicated']);
    expect(statusOf({ ...emptyVector(), hardware: 2, executables: 33 })).toBe('warning');
    expect(statusOf(emptyVector())).toBe('none');
    expect(releaseAllowed('warning', 'affirming')).toBe(false);
    expect(releaseAllowed('warning', 'warning')).toBe(true);
    expect(releaseAllowed('none', 'warning')).toBe(false);
    expect(releaseAllowed('contraindicated', 'warning')).toBe(false);
  });
});

describe('appraise', () => {
  it('sample is at best warning; releasable only with allowSampleTee and minimumStatus warning', () => {
    const a = appraise([sample], policy({ allowSampleTee: true }), [{ name: 'launch_digest', digest: 'abcde' }], at);
    expect(a.status).toBe('warning');
    expect(a.submods[0]!.vector).toMatchObject({ hardware: 32, configuration: 2, executables: 3 });
    expect(releaseDecision(a, policy({ allowSampleTee: true })).ok).toBe(false);
    expect(releaseDecision(a, policy({ allowSampleTee: true, minimumStatus: 'warning' })).ok).toBe(true);
    const refused = releaseDecision(a, policy({ minimumStatus: 'warning' }));
    expect(!refused.ok && refused.code).toBe('SampleTeeNotAllowed');
    const unpinned = appraise([sample], policy({ allowSampleTee: true }), [], at);
    expect(unpinned.submods[0]!.vector.executables).toBe(33);
    const wrong = appraise([sample], policy({ allowSampleTee: true }), [{ name: 'launch_digest', digest: 'ffff' }], at);
    expect(wrong.status).toBe('contraindicated');
  });

  it('TDX with pinned UKI/MRTD/RTMR1, accepted TCB, debug off, event log → affirming', () => {
    const a = appraise([tdx()], policy(pinned), [], at);
    expect(a.status).toBe('affirming');
    expect(a.submods[0]!.vector).toMatchObject({ hardware: 2, configuration: 2, executables: 3, 'runtime-opaque': 2 });
    expect(releaseDecision(a, policy(pinned)).ok).toBe(true);
  });

  it('reference values from the policy status (Rekor) count like inline ones', () => {
    const a = appraise([tdx()], policy({}), [{ name: 'measurement.uki.SHA-384', digest: hex(9).toUpperCase() }, { name: 'mr_td', digest: hex(1) }], at);
    expect(a.status).toBe('affirming');
  });

  it('each TDX downgrade carries its reason', () => {
    const cases: [Record<string, JsonValue>, object, string, string][] = [
      [{ uki_digests: [hex(8)] }, pinned, 'contraindicated', 'UkiMismatch'],
      [{ rtmr1: hex(7) }, pinned, 'contraindicated', 'RtmrMismatch'],
      [{ mr_td: hex(7) }, pinned, 'contraindicated', 'MrTdMismatch'],
      [{ debug: true }, pinned, 'contraindicated', 'DebugTd'],
      [{ tcb_status: 'OutOfDate' }, pinned, 'contraindicated', 'TcbStatusNotAccepted'],
      [{ tcb_status: 'Revoked' }, { tdx: { acceptedTcbStatuses: ['UpToDate', 'Revoked'], ...pinned.tdx } }, 'contraindicated', 'TcbRevoked'],
      [{ event_log: 'absent' }, pinned, 'contraindicated', 'EventLogMissing'],
      [{}, {}, 'warning', 'NoReferenceValues'],
    ];
    for (const [claims, p, status, code] of cases) {
      const a = appraise([tdx(claims)], policy(p), [], at);
      expect([a.status, codes(a).includes(code)]).toEqual([status, true]);
    }
    const ok = appraise([tdx({ tcb_status: 'SWHardeningNeeded', advisory_ids: ['INTEL-SA-00837'] })], policy({ tdx: { acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'], ...pinned.tdx } }), [], at);
    expect(ok.status).toBe('affirming');
    expect(ok.reasons.find((r) => r.code === 'Advisories')?.message).toContain('INTEL-SA-00837');
    const noLogOk = appraise([tdx({ event_log: 'absent' })], policy({ tdx: { requireEventLog: false, ...pinned.tdx } }), [], at);
    expect(noLogOk.status).toBe('affirming');
  });

  it('GPU rules: required GPU evidence, version allow-lists', () => {
    const gpuPolicy = policy({ ...pinned, gpu: { required: true, allowedDriverVersions: ['550.90.07'] } });
    expect(appraise([tdx(), nvidia()], gpuPolicy, [], at).status).toBe('affirming');
    const missing = appraise([tdx()], gpuPolicy, [], at);
    expect([missing.status, codes(missing).includes('GpuEvidenceMissing'), missing.submods.map((s) => s.name)]).toEqual(['contraindicated', true, ['cpu0', 'gpu0']]);
    const badDriver = appraise([tdx(), nvidia({ driver_versions: ['535.1'] })], gpuPolicy, [], at);
    expect([badDriver.status, codes(badDriver).includes('GpuVersionNotAllowed')]).toEqual(['contraindicated', true]);
    const noGpus = appraise([tdx(), nvidia({ gpu_count: 0 })], gpuPolicy, [], at);
    expect(codes(noGpus)).toContain('GpuCountMissing');
  });

  it('no primary evidence is contraindicated', () => {
    expect(appraise([], policy({}), [], at).status).toBe('contraindicated');
  });
});
