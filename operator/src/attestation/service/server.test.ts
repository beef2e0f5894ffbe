import { afterEach, describe, expect, it } from 'vitest';
import { httpCall } from '../../sim/guest/http.ts';
import { policyRecord, startAsHarness, tngShapedRequest, type AsHarness } from '../../../test/support/as-harness.ts';
import type { VerificationResult, Verifier } from '../verifier.ts';
import { ConcurrencyGate, RateLimiter } from './limits.ts';

let as: AsHarness | undefined;
afterEach(async () => {
  await as?.close();
  as = undefined;
});
const policies = [policyRecord('team', 'dev', { allowSampleTee: true, sample: { trustAsAffirming: true } })];
const err = (b: Buffer) => (JSON.parse(b.toString()) as { error: string }).error;

describe('attestation service transport', () => {
  it('serves HTTPS from the AS CA; unknown paths and wrong methods are coded errors', async () => {
    as = await startAsHarness({ policies });
    const ca = as.keyset.caCertPem;
    expect((await httpCall('GET', `${as.url}/certificate`, { ca })).status).toBe(200);
    const nf = await httpCall('GET', `${as.url}/kbs/v0/auth`, { ca });
    expect([nf.status, err(nf.body)]).toEqual([404, 'NotFound']);
    const m = await httpCall('GET', `${as.url}/attestation`, { ca });
    expect([m.status, err(m.body)]).toEqual([405, 'MethodNotAllowed']);
    const ok = await httpCall('POST', `${as.url}/attestation`, { ca, rawBody: tngShapedRequest({ policyId: 'team/dev' }).body });
    expect(ok.status).toBe(200);
    await expect(httpCall('GET', `${as.url}/certificate`)).rejects.toThrow(/self-signed|certificate/);
  });

  it('refuses a body over the limit with 413 before parsing it', async () => {
    as = await startAsHarness({ policies, maxAttestationBodyBytes: 1024 });
    const r = await httpCall('POST', `${as.url}/attestation`, { ca: as.keyset.caCertPem, rawBody: Buffer.alloc(4096, 0x20) });
    expect([r.status, err(r.body)]).toEqual([413, 'BodyTooLarge']);
  });

  it('rate-limits one client (429, Retry-After) without affecting the verdicts it already got', async () => {
    as = await startAsHarness({ policies, rateLimit: { perSecond: 0.001, burst: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await httpCall('GET', `${as.url}/certificate`, { ca: as.keyset.caCertPem })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(as.events.filter((e) => e.type === 'refused' && e.code === 'RateLimited')).toHaveLength(2);
  });

  it('bounds verifications in flight: beyond the queue it answers 503 Busy instead of piling up', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow: Verifier = { tee: 'sample', verify: async (): Promise<VerificationResult> => (await held, { ok: false, failure: { code: 'MalformedEvidence', message: 'x' } }) };
    as = await startAsHarness({ policies, verifiers: [slow], concurrency: { active: 1, queued: 1 } });
    const ca = as.keyset.caCertPem;
    const send = () => httpCall('POST', `${as!.url}/attestation`, { ca, rawBody: tngShapedRequest({ policyId: 'team/dev' }).body });
    const first = send();
    const second = send();
    await new Promise((r) => setTimeout(r, 200));
    const third = await send();
    expect([third.status, err(third.body)]).toEqual([503, 'Busy']);
    release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
  });
});

describe('limits', () => {
  it('the token bucket refills at its rate and is per client', () => {
    const r = new RateLimiter({ perSecond: 2, burst: 2 });
    expect([r.take('a', 0), r.take('a', 0), r.take('a', 0), r.take('b', 0)]).toEqual([true, true, false, true]);
    expect(r.take('a', 499)).toBe(false);
    expect(r.take('a', 500)).toBe(true);
  });

  it('the gate hands a released slot to the next waiter and refuses beyond the queue', async () => {
    const g = new ConcurrencyGate(1, 1);
    expect(await g.acquire()).toBe(true);
    const waiting = g.acquire();
    expect(await g.acquire()).toBe(false);
    g.release();
    expect(await waiting).toBe(true);
    expect(g.active).toBe(1);
    g.release();
    expect(g.active).toBe(0);
  });
});
