import { describe, expect, it } from 'vitest';
import type { Appraisal } from '../../attestation/policy/appraise.ts';
import type { JsonValue } from '../../attestation/verifier.ts';
import { summarizeAppraisal } from './appraisal-summary.ts';

const H = (c: string, n = 96) => c.repeat(n);
const vector = { 'instance-identity': 0, configuration: 2, executables: 3, 'file-system': 0, hardware: 2, 'runtime-opaque': 2, 'storage-opaque': 0, 'sourced-data': 0 };
const UKI = H('5a', 48);
const tdxClaims = (over: Record<string, JsonValue> = {}): Record<string, JsonValue> => ({
  mr_td: H('d'),
  rtmr0: H('0'),
  rtmr1: H('1'),
  rtmr2: H('2'),
  rtmr3: H('3'),
  tcb_status: 'OutOfDate',
  advisory_ids: ['INTEL-SA-00837', 'INTEL-SA-00960'],
  fmspc: '00806f050000',
  collateral_expires_at: '2027-01-01T00:00:00.000Z',
  uki_digests: [H('ab', 48), UKI.toUpperCase()],
  ...over,
});
const gpu = (over: Record<string, JsonValue> = {}) => ({ uuid: 'GPU-1', arch: 'HOPPER', driver_version: '545.00', vbios_version: '96.00.5E.00.01', driver_rim_id: 'NV_GPU_DRIVER_GH100_545.00', vbios_rim_id: 'NV_GPU_VBIOS_1010', rim_expires_at: '2049-12-31T23:59:59.000Z', ...over });

function appraisal(tdx: Record<string, JsonValue>, gpus: JsonValue[] = []): Appraisal {
  return {
    status: 'affirming',
    reasons: [],
    appraisedAt: '2026-12-04T00:00:00.000Z',
    sampleTee: false,
    submods: [
      { name: 'cpu0', tee: 'tdx', teeClass: 'cpu', status: 'affirming', vector, evidence: { tee: 'tdx', teeClass: 'cpu', claims: tdx, warnings: [] } },
      ...(gpus.length ? [{ name: 'gpu0', tee: 'nvidia' as const, teeClass: 'gpu' as const, status: 'affirming' as const, vector, evidence: { tee: 'nvidia' as const, teeClass: 'gpu' as const, claims: { gpus }, warnings: [] } }] : []),
    ],
  };
}
const rv = [{ name: 'measurement.uki.SHA-384', digest: UKI, version: '2026.11.1', logIndex: 1002 }];

describe('appraisal summary for status', () => {
  it('keeps trust vectors, TDX measurements and TCB, the UKI that matched a Rekor entry, and GPUs with RIMs', () => {
    const s = summarizeAppraisal(appraisal(tdxClaims(), [gpu(), gpu({ uuid: 'GPU-2' })]), rv);
    expect(s.submods).toEqual([
      { name: 'cpu0', tee: 'tdx', status: 'affirming', trustVector: vector },
      { name: 'gpu0', tee: 'nvidia', status: 'affirming', trustVector: vector },
    ]);
    expect(s.tdx).toEqual({
      mrTd: H('d'),
      rtmrs: [H('0'), H('1'), H('2'), H('3')],
      tcbStatus: 'OutOfDate',
      advisoryIds: ['INTEL-SA-00837', 'INTEL-SA-00960'],
      fmspc: '00806f050000',
      collateralExpiresAt: '2027-01-01T00:00:00.000Z',
      ukiDigest: UKI, // the matching one, not the first measured
      referenceValue: { digest: UKI, version: '2026.11.1', logIndex: 1002 },
    });
    expect(s.gpus).toEqual([
      { arch: 'HOPPER', driverVersion: '545.00', vbiosVersion: '96.00.5E.00.01', driverRimId: 'NV_GPU_DRIVER_GH100_545.00', vbiosRimId: 'NV_GPU_VBIOS_1010', rimExpiresAt: '2049-12-31T23:59:59.000Z' },
      { arch: 'HOPPER', driverVersion: '545.00', vbiosVersion: '96.00.5E.00.01', driverRimId: 'NV_GPU_DRIVER_GH100_545.00', vbiosRimId: 'NV_GPU_VBIOS_1010', rimExpiresAt: '2049-12-31T23:59:59.000Z' },
    ]);
  });

  it('without a matching reference value: the first measured UKI and no Rekor entry', () => {
    const s = summarizeAppraisal(appraisal(tdxClaims()), []);
    expect(s.tdx?.ukiDigest).toBe(H('ab', 48));
    expect(s.tdx?.referenceValue).toBeUndefined();
  });

  it('drops values that do not fit instead of storing them (hostile or malformed claims)', () => {
    // No TDX block when a required measurement is not hex of the right size.
    expect(summarizeAppraisal(appraisal(tdxClaims({ mr_td: 'zz' + H('d', 94) })), rv).tdx).toBeUndefined();
    expect(summarizeAppraisal(appraisal(tdxClaims({ rtmr2: H('2', 98) })), rv).tdx).toBeUndefined();
    expect(summarizeAppraisal(appraisal(tdxClaims({ tcb_status: 'x'.repeat(65) })), rv).tdx).toBeUndefined();
    const s = summarizeAppraisal(
      appraisal(
        tdxClaims({ advisory_ids: ['INTEL-SA-1', 'bad\nline', 'A'.repeat(33), 7], fmspc: '00806F05000', collateral_expires_at: 'soon', uki_digests: 'not a list' }),
        [gpu({ driver_rim_id: 'x'.repeat(129), rim_expires_at: 'never' }), gpu({ arch: '' }), 'not an object', ...Array.from({ length: 30 }, () => gpu())],
      ),
      rv,
    );
    expect(s.tdx?.advisoryIds).toEqual(['INTEL-SA-1']);
    expect(s.tdx?.fmspc).toBeUndefined();
    expect(s.tdx?.collateralExpiresAt).toBeUndefined();
    expect(s.tdx?.ukiDigest).toBeUndefined();
    expect(s.gpus?.[0]).toEqual({ arch: 'HOPPER', driverVersion: '545.00', vbiosVersion: '96.00.5E.00.01', vbiosRimId: 'NV_GPU_VBIOS_1010' });
    expect(s.gpus).toHaveLength(14); // of the first 16 entries, two are dropped
  });
});
