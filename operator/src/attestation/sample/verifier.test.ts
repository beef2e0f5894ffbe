import { describe, expect, it } from 'vitest';
import { AttestationPolicySpecSchema } from '../../api/attestation-policy.ts';
import type { JsonValue } from '../verifier.ts';
import { SampleDeviceVerifier, SampleVerifier, sampleEvidence } from './verifier.ts';

const policy = AttestationPolicySpecSchema.parse({ allowSampleTee: true });
const at = new Date('2026-11-21T12:00:00Z');
const rd = Buffer.alloc(48, 0xab);

describe('sample verifiers', () => {
  it('accepts exact report_data and emits claims; adds init_data when given', async () => {
    const r = await new SampleVerifier().verify({ evidence: sampleEvidence(rd, '1', Buffer.alloc(48, 1)), expectedReportData: rd, at, policy, initDataDigest: Buffer.alloc(48, 1) });
    expect(r.ok && r.verified.claims).toEqual({
      svn: '1',
      report_data: rd.toString('base64'),
      launch_digest: 'abcde',
      platform_version: { major: 1, minor: 4 },
      debug: false,
      init_data: Buffer.alloc(48, 1).toString('base64'),
    });
  });

  it('init_data (the MRCONFIGID stand-in) must equal the expected init-data digest when one is expected', async () => {
    const v = new SampleVerifier();
    const want = Buffer.alloc(48, 1);
    for (const evidence of [sampleEvidence(rd), sampleEvidence(rd, '1', Buffer.alloc(48, 2)), sampleEvidence(rd, '1', want.subarray(0, 47))]) {
      const r = await v.verify({ evidence, expectedReportData: rd, at, policy, initDataDigest: want });
      expect(!r.ok && r.failure.code).toBe('InitDataMismatch');
    }
    // evidence with init_data but no expectation: verified, and the claim reports what the evidence carries
    // (as TDX always reports MRCONFIGID); evidence without init_data gets no such claim
    const none = await v.verify({ evidence: sampleEvidence(rd, '1', want), expectedReportData: rd, at, policy });
    expect(none.ok && none.verified.claims['init_data']).toBe(want.toString('base64'));
    const absent = await v.verify({ evidence: sampleEvidence(rd), expectedReportData: rd, at, policy });
    expect(absent.ok && absent.verified.claims['init_data']).toBeUndefined();
    const bad = await v.verify({ evidence: { svn: '1', report_data: rd.toString('base64'), init_data: '***' }, expectedReportData: rd, at, policy });
    expect(!bad.ok && bad.failure.code).toBe('MalformedEvidence');
  });

  it('compares exactly: zero-padded, truncated or different report data fail', async () => {
    const v = new SampleVerifier();
    for (const bytes of [Buffer.concat([rd, Buffer.alloc(16)]), rd.subarray(0, 32), Buffer.alloc(48, 0xac)]) {
      const r = await v.verify({ evidence: sampleEvidence(bytes), expectedReportData: rd, at, policy });
      expect(!r.ok && r.failure.code).toBe('ReportDataMismatch');
    }
  });

  it('rejects malformed evidence without throwing', async () => {
    const v = new SampleDeviceVerifier();
    for (const evidence of [null, 'x', 1, [], {}, { svn: '' }, { svn: '1', report_data: '***' }, { svn: '1', report_data: 5 }, { svn: 'x'.repeat(65) }] as JsonValue[]) {
      const r = await v.verify({ evidence, expectedReportData: rd, at, policy });
      expect(!r.ok && r.failure.code).toBe('MalformedEvidence');
    }
    const ok = await v.verify({ evidence: sampleEvidence(rd, '2'), expectedReportData: rd, at, policy });
    expect(ok.ok && ok.verified.teeClass).toBe('gpu');
  });
});
