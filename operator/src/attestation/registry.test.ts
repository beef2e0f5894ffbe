import { describe, expect, it } from 'vitest';
import { AttestationPolicySpecSchema } from '../api/attestation-policy.ts';
import { deviceReportData, primaryReportData } from '../protocol/runtime-data.ts';
import { generateTeeKeyPair } from '../protocol/tee-key.ts';
import { defaultVerifierRegistry, verifyCompositeEvidence, type CompositeAttestation } from './registry.ts';
import { sampleEvidence } from './sample/verifier.ts';

const devPolicy = AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning' });
const strictPolicy = AttestationPolicySpecSchema.parse({});
const at = new Date('2026-11-21T12:00:00Z');
const nonce = Buffer.alloc(32, 7).toString('base64');
const registry = defaultVerifierRegistry();

function attestation(additional = '', n = nonce): CompositeAttestation {
  const kp = generateTeeKeyPair();
  return { tee: 'sample', runtimeNonce: n, teePubkey: kp.publicKey, primaryEvidence: sampleEvidence(primaryReportData(n, kp.publicKey, additional)), additionalEvidence: additional };
}

describe('VerifierRegistry + composite evidence', () => {
  it('verifies sample primary evidence bound to nonce and TEE key, with trustee sample claims', async () => {
    const r = await verifyCompositeEvidence(attestation(), nonce, devPolicy, registry, at);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.verified[0]).toMatchObject({ tee: 'sample', teeClass: 'cpu', claims: { svn: '1', launch_digest: 'abcde', debug: false, platform_version: { major: 1, minor: 4 } } });
  });

  it('verifies sampledevice additional evidence against SHA-384(JCS({nonce, tee-pubkey}))', async () => {
    const kp = generateTeeKeyPair();
    const additional = JSON.stringify({ sampledevice: sampleEvidence(deviceReportData(nonce, kp.publicKey), '2') });
    const a: CompositeAttestation = {
      tee: 'sample',
      runtimeNonce: nonce,
      teePubkey: kp.publicKey,
      primaryEvidence: sampleEvidence(primaryReportData(nonce, kp.publicKey, additional)),
      additionalEvidence: additional,
    };
    const r = await verifyCompositeEvidence(a, nonce, devPolicy, registry, at);
    expect(r.ok && r.verified.map((v) => `${v.tee}/${v.teeClass}`)).toEqual(['sample/cpu', 'sampledevice/gpu']);
    // device evidence bound to the primary hash instead → refused
    const bad = JSON.stringify({ sampledevice: sampleEvidence(primaryReportData(nonce, kp.publicKey, ''), '2') });
    const r2 = await verifyCompositeEvidence({ ...a, additionalEvidence: bad, primaryEvidence: sampleEvidence(primaryReportData(nonce, kp.publicKey, bad)) }, nonce, devPolicy, registry, at);
    expect(!r2.ok && `${r2.failure.tee}:${r2.failure.code}`).toBe('sampledevice:ReportDataMismatch');
  });

  it('refuses with distinct codes', async () => {
    const codes = async (a: CompositeAttestation, n = nonce, p = devPolicy) => {
      const r = await verifyCompositeEvidence(a, n, p, registry, at);
      return r.ok ? 'ok' : r.failure.code;
    };
    expect(await codes(attestation(), nonce, strictPolicy)).toBe('SampleTeeNotAllowed');
    expect(await codes(attestation(), Buffer.alloc(32, 8).toString('base64'))).toBe('NonceMismatch');
    const other = generateTeeKeyPair().publicKey;
    expect(await codes({ ...attestation(), teePubkey: other })).toBe('ReportDataMismatch');
    expect(await codes({ ...attestation(), tee: 'snp' })).toBe('UnsupportedTee');
    expect(await codes({ ...attestation(), tee: 'tdx' })).toBe('UnsupportedTee');
    expect(await codes({ ...attestation(), primaryEvidence: { svn: 1, report_data: 'x' } })).toBe('MalformedEvidence');
    expect(await codes({ ...attestation(), primaryEvidence: [] })).toBe('MalformedEvidence');
    expect(await codes({ ...attestation(), additionalEvidence: '{' })).toBe('MalformedAdditionalEvidence');
    expect(await codes({ ...attestation(), additionalEvidence: '[]' })).toBe('MalformedAdditionalEvidence');
    expect(await codes({ ...attestation(), tee: 'sampledevice' })).toBe('NotPrimaryTee');
  });
});
