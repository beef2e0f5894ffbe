// `cai status` output, golden: a Ready agent (TDX + 8 GPUs, challenge delivery) and one refused
// GpuEvidenceMissing, from status objects captured by metrics-lifecycle.test.ts against the real API server
// (CAI_CAPTURE_STATUS_FIXTURES=file), at a fixed "now". UPDATE_GOLDEN=1 rewrites the golden files.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import { formatStatus, relative, statusReport } from './status-report.ts';

const DIR = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'status');
const fixture = JSON.parse(readFileSync(join(DIR, 'agents.json'), 'utf8')) as { ready: ConfidentialAgent; refused: ConfidentialAgent; policy: AttestationPolicy };
// Ten minutes after the capture.
const NOW = new Date(Date.parse(fixture.ready.status?.attestation?.verifiedAt ?? '') + 600_000);
// The value sealed for the Ready agent in the captured run: it must never appear.
const SEALED_VALUE = 'metrics-push-secret-4b1f9';

function golden(file: string, actual: string): void {
  const path = join(DIR, file);
  if (process.env.UPDATE_GOLDEN) writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

describe('cai status report', () => {
  it('Ready agent: conditions, instance, appraisal with measurements and RIMs, credentials, expiries (golden)', () => {
    const report = statusReport(fixture.ready, fixture.policy);
    const text = formatStatus(report, NOW);
    golden('ready.txt', text);
    golden('ready.json', `${JSON.stringify(report, null, 2)}\n`);
    expect(report.expiries.map((e) => e.what)).toEqual([expect.stringMatching(/^TDX collateral/), expect.stringMatching(/^NVIDIA RIMs/)]);
  });

  it('refused agent: the reason on every blocked condition, no appraisal (golden)', () => {
    golden('refused.txt', formatStatus(statusReport(fixture.refused, fixture.policy), NOW));
  });

  it('prints no secret, nonce, token or ciphertext', () => {
    for (const agent of [fixture.ready, fixture.refused]) {
      const text = formatStatus(statusReport(agent, fixture.policy), NOW) + JSON.stringify(statusReport(agent, fixture.policy));
      expect(text).not.toContain(SEALED_VALUE);
      // Hex digests are measured values; long base64 (nonces, EAR tokens, JWE, sealed data) never appears.
      // (a run of 40+ base64 characters that is not plain hex)
      expect(text).not.toMatch(/(?=[A-Za-z0-9+/]*[g-zG-Z+/])[A-Za-z0-9+/]{40,}/);
    }
  });

  it('an agent the operator has not reconciled yet, and a missing policy, read as such', () => {
    const fresh = { ...fixture.ready, status: {} } as ConfidentialAgent;
    const text = formatStatus(statusReport(fresh, undefined), NOW);
    expect(text).toContain(`: Ready=Unknown (NotReconciled)`);
    expect(text).toContain('Instance:     none yet');
    expect(text).toContain('Ready=not found');
    expect(text).toContain('Last appraisal: none');
    expect(text).toContain('Next re-attestation: not scheduled');
  });

  it('relative times', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(relative('2026-01-02T03:04:05Z', now)).toBe('in 1d 3h');
    expect(relative('2025-12-31T23:59:00Z', now)).toBe('1m ago');
    expect(relative('not a time', now)).toBe('?');
  });
});
