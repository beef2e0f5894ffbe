// Appraisal of claims produced by the real TDX verifier from a captured quote + CCEL (GCP COS 113 boot),
// so the claim names the rules read are the ones the verifier emits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AttestationPolicySpecSchema } from '../../api/attestation-policy.ts';
import { CCEL_FIXTURES, TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { loadCollateralDir } from '../tdx/collateral-dir.ts';
import { staticCollateralSource } from '../tdx/collateral-source.ts';
import { createTdxVerifier } from '../tdx/verifier.ts';
import type { VerifiedEvidence } from '../verifier.ts';
import { appraise } from './appraise.ts';

const at = new Date('2025-06-05T03:45:00Z');
const allButRevoked = ['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDate', 'OutOfDateConfigurationNeeded'];

async function verified(withLog: boolean): Promise<VerifiedEvidence> {
  const quote = readFileSync(join(CCEL_FIXTURES, 'gcp-cos113-go-tdx-guest', 'quote.bin'));
  const ccel = readFileSync(join(CCEL_FIXTURES, 'gcp-cos113-go-tdx-guest', 'ccel_data.bin'));
  const collateral = await loadCollateralDir(join(TDX_FIXTURES, 'v4-00806f050000', 'collateral-2025-06'));
  const v = createTdxVerifier({ collateralFor: () => staticCollateralSource(collateral, []) });
  const r = await v.verify({
    evidence: { cc_eventlog: withLog ? ccel.toString('base64') : null, quote: quote.toString('base64') },
    expectedReportData: new Uint8Array(48),
    at,
    policy: AttestationPolicySpecSchema.parse({ tdx: { requireEventLog: withLog } }),
  });
  if (!r.ok) throw new Error(`${r.failure.code}: ${r.failure.message}`);
  return r.verified;
}

describe('appraisal of real TDX verifier claims', () => {
  it('pinned UKI + MRTD from the same boot → affirming; a different UKI → contraindicated', async () => {
    const ev = await verified(true);
    const uki = (ev.claims['uki_digests'] as string[])[0]!;
    const policy = AttestationPolicySpecSchema.parse({ tdx: { acceptedTcbStatuses: allButRevoked, referenceValues: { inline: { mrtd: [ev.claims['mr_td'] as string], ukiSha384: [uki] } } } });
    const ok = appraise([ev], policy, [], at);
    expect([ok.status, ok.submods[0]!.vector.executables, ok.submods[0]!.vector.configuration]).toEqual(['affirming', 3, 2]);
    const wrong = appraise([ev], policy, [{ name: 'measurement.uki.SHA-384', digest: 'ab'.repeat(48) }], at);
    expect(wrong.status).toBe('affirming'); // any pinned UKI matching is enough
    const only = AttestationPolicySpecSchema.parse({ tdx: { acceptedTcbStatuses: allButRevoked, referenceValues: { inline: { ukiSha384: ['ab'.repeat(48)] } } } });
    const bad = appraise([ev], only, [], at);
    expect([bad.status, bad.reasons.some((r) => r.code === 'UkiMismatch')]).toEqual(['contraindicated', true]);
    const strictTcb = appraise([ev], AttestationPolicySpecSchema.parse({ tdx: { referenceValues: { inline: { ukiSha384: [uki] } } } }), [], at);
    const tcb = ev.claims['tcb_status'] as string;
    expect(strictTcb.status).toBe(tcb === 'UpToDate' ? 'affirming' : 'contraindicated');
  });

  it('without an event log the default policy (requireEventLog) is contraindicated', async () => {
    const ev = await verified(false);
    expect(ev.claims['event_log']).toBe('absent');
    const a = appraise([ev], AttestationPolicySpecSchema.parse({ tdx: { acceptedTcbStatuses: allButRevoked } }), [], at);
    expect([a.status, a.reasons.some((r) => r.code === 'EventLogMissing')]).toEqual(['contraindicated', true]);
  });
});
