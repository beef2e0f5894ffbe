// Delivery receipts are read only when signed by a trusted key for this agent's UID; everything else reads as none.
import { describe, expect, it } from 'vitest';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import { EarSigner } from '../attestation/policy/ear.ts';
import { KBS_RECEIPTS_ANNOTATION, readReceipts, signReceipts, type Receipt } from './kbs-receipts.ts';

const signer = EarSigner.generate();
const trusted = [signer.publicJwk];
const receipt: Receipt = { resourcePath: 'default/db/password', at: '2026-12-04T10:00:00.000Z' };
const agentWith = (jws: string | undefined, uid = 'uid-1'): ConfidentialAgent =>
  ({ metadata: { name: 'a', namespace: 'ns', uid, ...(jws !== undefined ? { annotations: { [KBS_RECEIPTS_ANNOTATION]: jws } } : {}) }, spec: { credentials: [{ name: 'db' }] } }) as unknown as ConfidentialAgent;

describe('KBS delivery receipts', () => {
  it('round-trips what the KBS signed for this agent', () => {
    const jws = signReceipts(signer, 'uid-1', new Map([['db', receipt]]));
    expect([...readReceipts(agentWith(jws), trusted)]).toEqual([['db', receipt]]);
  });

  it('carries which sealed value went out (its digest); a digest that is not 64 hex characters is dropped, the receipt kept', () => {
    const withDigest: Receipt = { ...receipt, digest: 'ab'.repeat(32) };
    expect([...readReceipts(agentWith(signReceipts(signer, 'uid-1', new Map([['db', withDigest]]))), trusted)]).toEqual([['db', withDigest]]);
    const odd = signer.signJson({ profile: 'tag:confidential-agent.io,2026:kbs-receipts', uid: 'uid-1', d: { db: [receipt.resourcePath, receipt.at, 'AB'.repeat(40)] } });
    expect([...readReceipts(agentWith(odd), trusted)]).toEqual([['db', receipt]]);
  });

  it('reads nothing from a receipt for another agent (UID), another key, a tampered payload, an EAR, garbage or an oversized value', () => {
    const jws = signReceipts(signer, 'uid-1', new Map([['db', receipt]]));
    const [h, , s] = jws.split('.');
    const forged = Buffer.from(JSON.stringify({ profile: 'tag:confidential-agent.io,2026:kbs-receipts', uid: 'uid-1', d: { db: ['default/db/password', '2027-01-01T00:00:00Z'] } })).toString('base64url');
    const cases: Array<[string, ConfidentialAgent]> = [
      ['other uid', agentWith(jws, 'uid-2')],
      ['other key', agentWith(signReceipts(EarSigner.generate(), 'uid-1', new Map([['db', receipt]])))],
      ['tampered payload', agentWith(`${h}.${forged}.${s}`)],
      ['an EAR-shaped JWS', agentWith(signer.signJson({ eat_profile: 'tag:github.com,2023:veraison/ear', uid: 'uid-1', d: { db: ['x', receipt.at] } }))],
      ['garbage', agentWith('not.a.jws!')],
      ['two segments', agentWith('abc.def')],
      ['oversized', agentWith('a'.repeat(64 * 1024 + 1))],
      ['absent', agentWith(undefined)],
    ];
    for (const [label, agent] of cases) expect(readReceipts(agent, trusted).size, label).toBe(0);
    expect(readReceipts(undefined, trusted).size).toBe(0);
  });

  it('skips malformed entries and keeps at most 256', () => {
    const many = new Map<string, Receipt>(Array.from({ length: 300 }, (_, i) => [`c${i}`, receipt]));
    expect(readReceipts(agentWith(signReceipts(signer, 'uid-1', many)), trusted).size).toBe(256);
    const bad = signer.signJson({ profile: 'tag:confidential-agent.io,2026:kbs-receipts', uid: 'uid-1', d: { a: ['p', 'not a date'], b: 'x', c: ['p', receipt.at] } });
    expect([...readReceipts(agentWith(bad), trusted).keys()]).toEqual(['c']);
  });
});
