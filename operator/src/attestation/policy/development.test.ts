import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AttestationPolicySpecSchema, type AttestationPolicySpec } from '../../api/attestation-policy.ts';
import type { VerifiedEvidence } from '../verifier.ts';
import { appraise } from './appraise.ts';
import { developmentSettings, trustsSampleAsAffirming } from './development.ts';

const ROOT = join(import.meta.dirname, '../../../..');
const at = new Date('2026-12-04T12:00:00Z');
const sample: VerifiedEvidence = { tee: 'sample', teeClass: 'cpu', claims: { svn: '1', report_data: 'cmQ=', launch_digest: 'abcde', debug: false }, warnings: [] };
const device: VerifiedEvidence = { tee: 'sampledevice', teeClass: 'gpu', claims: { svn: '2', report_data: 'cmQ=' }, warnings: [] };
const spec = (s: Record<string, unknown>) => AttestationPolicySpecSchema.parse(s);

function policyFiles(dir: string, match: RegExp): { file: string; spec: AttestationPolicySpec }[] {
  return readdirSync(dir)
    .filter((f) => match.test(f))
    .map((f) => ({ file: f, spec: spec((parse(readFileSync(join(dir, f), 'utf8')) as { spec: Record<string, unknown> }).spec) }));
}

describe('sample evidence appraisal', () => {
  it('is at best warning unless the policy explicitly sets sample.trustAsAffirming', () => {
    expect(appraise([sample], spec({ allowSampleTee: true }), [], at).status).toBe('warning');
    expect(appraise([sample, device], spec({ allowSampleTee: true, sample: { trustAsAffirming: false } }), [], at).status).toBe('warning');
    const trusted = appraise([sample, device], spec({ allowSampleTee: true, sample: { trustAsAffirming: true } }), [], at);
    expect(trusted.status).toBe('affirming');
    expect(trusted.reasons.filter((r) => r.code === 'SampleTrustedByPolicy').map((r) => `${r.submod}:${r.claim}`)).toEqual(['cpu0:hardware', 'cpu0:executables', 'gpu0:hardware']);
  });

  it('never without allowSampleTee (the CRD rule rejects that combination; the appraisal does not rely on it)', () => {
    const bypass = { ...spec({}), sample: { trustAsAffirming: true } };
    expect(trustsSampleAsAffirming(bypass)).toBe(false);
    expect(appraise([sample], bypass, [], at).status).toBe('warning');
  });

  it('a debug sample or a pinned launch digest that does not match stays contraindicated', () => {
    const p = spec({ allowSampleTee: true, sample: { trustAsAffirming: true } });
    expect(appraise([{ ...sample, claims: { ...sample.claims, debug: true } }], p, [], at).status).toBe('contraindicated');
    expect(appraise([sample], p, [{ name: 'launch_digest', digest: 'ffff' }], at).status).toBe('contraindicated');
  });
});

describe('shipped policies', () => {
  const production = policyFiles(join(ROOT, 'policies/attestation'), /production.*\.ya?ml$/);

  it('there are production policy examples to check', () => {
    expect(production.length).toBeGreaterThan(0);
  });

  it.each(production.map((p) => [p.file, p.spec] as const))('%s sets no development-only setting', (_file, s) => {
    expect(developmentSettings(s)).toEqual([]);
  });

  it('the check rejects a production policy that sets sample.trustAsAffirming', () => {
    const s = production[0]!.spec;
    const tampered = { ...s, allowSampleTee: true, sample: { trustAsAffirming: true } };
    expect(developmentSettings(tampered).map((d) => d.field)).toEqual(['spec.allowSampleTee', 'spec.sample.trustAsAffirming']);
  });

  it('the development example is flagged', () => {
    const dev = policyFiles(join(ROOT, 'policies/attestation'), /development.*\.ya?ml$/);
    expect(dev.flatMap((d) => developmentSettings(d.spec).map((x) => x.field))).toContain('spec.allowSampleTee');
  });
});
