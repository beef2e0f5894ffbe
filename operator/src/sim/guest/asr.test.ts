import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SampleVerifier } from '../../attestation/sample/verifier.ts';
import { AttestationPolicySpecSchema } from '../../api/attestation-policy.ts';
import { agentInitDataDigest } from '../../protocol/agent-init-data.ts';
import { startAsr, type AsrServer } from './asr.ts';
import { httpCall } from './http.ts';

const digest = agentInitDataDigest({ namespace: 'ns', name: 'a', uid: 'u-1' });
let asr: AsrServer;
beforeAll(async () => (asr = await startAsr({ initDataDigest: digest })));
afterAll(() => asr.close());

describe('simulated guest ASR', () => {
  it('GET /info names the TEE', async () => {
    const r = await httpCall('GET', `${asr.url}/info`);
    expect(JSON.parse(r.body.toString())).toEqual({ tee: 'sample' });
  });

  it('GET /aa/evidence binds the runtime data (standard or url-safe base64) and carries the launch init-data digest', async () => {
    const rd = Buffer.alloc(48, 0xfb);
    for (const q of [encodeURIComponent(rd.toString('base64')), rd.toString('base64url')]) {
      const r = await httpCall('GET', `${asr.url}/aa/evidence?runtime_data=${q}&encoding=base64`);
      expect(r.status).toBe(200);
      const ev = JSON.parse(r.body.toString()) as Record<string, string>;
      const v = await new SampleVerifier().verify({ evidence: ev, expectedReportData: rd, at: new Date(), policy: AttestationPolicySpecSchema.parse({ allowSampleTee: true }) });
      expect(v.ok && v.verified.claims['init_data']).toBe(digest.toString('base64'));
    }
  });

  it.each([
    ['/aa/evidence', 400],
    ['/aa/evidence?runtime_data=' + Buffer.alloc(65).toString('base64url'), 400],
    ['/aa/evidence?runtime_data=AAAA&encoding=hex', 400],
    ['/aa/evidence?runtime_data=%%%', 400],
    ['/aa/additional_evidence?runtime_data=AAAA', 404],
  ])('GET %s → %i', async (path, status) => {
    expect((await httpCall('GET', `${asr.url}${path}`)).status).toBe(status);
  });

  it('a sample evidence init_data that contradicts the init-data sent with it is refused by the verifier', async () => {
    const rd = Buffer.alloc(48, 1);
    const ev = JSON.parse((await httpCall('GET', `${asr.url}/aa/evidence?runtime_data=${rd.toString('base64url')}`)).body.toString()) as Record<string, string>;
    const v = await new SampleVerifier().verify({ evidence: ev, expectedReportData: rd, at: new Date(), policy: AttestationPolicySpecSchema.parse({ allowSampleTee: true }), initDataDigest: Buffer.alloc(48, 2) });
    expect(v.ok).toBe(false);
    expect(!v.ok && v.failure.code).toBe('InitDataMismatch');
  });
});
