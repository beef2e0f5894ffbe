// Issue 3's refusal list at library level: each case is refused with its own stable code (as the KBS
// reports it in its events, which the controllers turn into status reasons and Events), nothing released.
import { afterEach, describe, expect, it } from 'vitest';
import { sampleEvidence } from '../../attestation/sample/verifier.ts';
import { httpCall } from '../../sim/guest/http.ts';
import { KbsClient } from '../../sim/guest/kbs-client.ts';
import { primaryReportData } from '../../protocol/runtime-data.ts';
import { generateTeeKeyPair, type TeePubKey } from '../../protocol/tee-key.ts';
import { startTestKbs, TEST_RESOURCE, type TestKbs } from '../../../test/support/kbs-harness.ts';

let t = Date.now();
let kbs: TestKbs;
afterEach(() => kbs.close());

async function auth(): Promise<{ cookie: string; nonce: string }> {
  const r = await httpCall('POST', `${kbs.url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
  return { cookie: String(r.headers['set-cookie']).split(';')[0]!, nonce: (JSON.parse(r.body.toString()) as { nonce: string }).nonce };
}

function attestation(nonce: string, key: TeePubKey, evidenceNonce = nonce, evidenceKey = key) {
  return { 'runtime-data': { nonce, 'tee-pubkey': key }, 'tee-evidence': { primary_evidence: sampleEvidence(primaryReportData(evidenceNonce, evidenceKey, '')), additional_evidence: '' } };
}

const attest = (cookie: string, body: unknown) => httpCall('POST', `${kbs.url}/kbs/v0/attest`, { body, headers: { cookie } });
const refusalCodes = () => kbs.events.flatMap((e) => (e.type === 'attestation-refused' || e.type === 'release-refused' ? [e.code] : []));

describe('refusal list (issue 3)', () => {
  it('every case has its own code and nothing is released', async () => {
    const codes: Record<string, string> = {};
    const key = generateTeeKeyPair().publicKey;
    const last = () => refusalCodes().at(-1)!;

    kbs = await startTestKbs({ policy: {}, now: () => t });
    await new KbsClient({ baseUrl: kbs.url, handshakeAttempts: 1, getAttempts: 2 }).getResource(TEST_RESOURCE).catch(() => undefined);
    codes['policy forbids sample'] = last();
    await kbs.close();

    kbs = await startTestKbs({ now: () => t });
    let s = await auth();
    await attest(s.cookie, attestation(Buffer.alloc(32, 3).toString('base64'), key));
    codes['wrong nonce'] = last();

    s = await auth();
    await attest(s.cookie, attestation(s.nonce, key, s.nonce, generateTeeKeyPair().publicKey));
    codes['evidence bound to another TEE key'] = last();

    const first = await auth();
    const captured = attestation(first.nonce, key);
    expect((await attest(first.cookie, captured)).status).toBe(200);
    s = await auth();
    await attest(s.cookie, captured);
    codes['replayed attestation'] = last();

    s = await auth();
    t += 301_000;
    await attest(s.cookie, attestation(s.nonce, key));
    codes['expired session'] = last();

    kbs.sealCredential('for-someone-else', 'default/local-resources/scoped', 'scoped-value', { mode: 'Strict', agents: ['another-agent'] });
    kbs.lists.agents[0]!.credentials.push('for-someone-else');
    const client = new KbsClient({ baseUrl: kbs.url, handshakeAttempts: 1, getAttempts: 1 });
    await client.handshake();
    await client.getResource('default/local-resources/scoped').catch(() => undefined);
    codes['credential out of scope'] = last();

    const cred = kbs.lists.credentials[0]!;
    const b = Buffer.from(cred.encryptedData, 'base64');
    b[b.length - 5]! ^= 0x40;
    cred.encryptedData = b.toString('base64');
    await client.getResource(TEST_RESOURCE).catch(() => undefined);
    codes['tampered ciphertext'] = last();

    const foreign = await startTestKbs();
    const foreignClient = new KbsClient({ baseUrl: foreign.url, handshakeAttempts: 1 });
    const token = await foreignClient.handshake();
    await foreign.close();
    await new KbsClient({ baseUrl: kbs.url }).getResourceWithBearer(TEST_RESOURCE, token, foreignClient.teeKey!.privateKey).catch(() => undefined);
    codes['token signed by another key'] = last();

    expect(codes).toEqual({
      'policy forbids sample': 'SampleTeeNotAllowed',
      'wrong nonce': 'NonceMismatch',
      'evidence bound to another TEE key': 'ReportDataMismatch',
      'replayed attestation': 'AttestationReplayed',
      'expired session': 'SessionExpired',
      'credential out of scope': 'NotEntitled',
      'tampered ciphertext': 'Tampered',
      'token signed by another key': 'EarUntrustedKey',
    });
    expect(new Set(Object.values(codes)).size).toBe(8);
    expect(kbs.events.filter((e) => e.type === 'released')).toHaveLength(0);
  });
});
