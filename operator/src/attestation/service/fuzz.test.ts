// Robustness of the attestation service, as for the KBS (release/kbs/fuzz.test.ts): thousands of malformed
// or hostile requests against a live HTTPS server → only coded 4xx errors (or a token that is never
// affirming), no crash, nothing echoed; then every field at (and over) its production limit answered with
// its specific error in bounded time; and a genuine TNG-shaped request still gets an affirming token.
import { Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCall, type HttpReply } from '../../sim/guest/http.ts';
import { policyRecord, startAsHarness, tngShapedRequest, type AsHarness } from '../../../test/support/as-harness.ts';
import { jcsSha384 } from '../../protocol/runtime-data.ts';
import { AS_LIMITS } from './messages.ts';

const TOTAL = 5_000;
const CONCURRENCY = 16;
const NS = 'team';
let as: AsHarness;

function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(20261204);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const junk = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
const weird = [null, true, 0, -1, 1e308, '', 'x'.repeat(3000), [], {}, [[[[]]]], { a: { b: [1] } }, 'sample', '\u0000\ud800', 'team/dev'];
const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function mutate(): unknown {
  const base = JSON.parse(tngShapedRequest({ policyId: `${NS}/dev` }).body.toString()) as { verification_requests: Array<Record<string, unknown>>; policy_ids: unknown };
  const e = base.verification_requests[0]!;
  switch (Math.floor(rand() * 10)) {
    case 0:
      e[pick(['tee', 'evidence', 'runtime_data', 'init_data', 'runtime_data_hash_algorithm'])] = pick(weird);
      break;
    case 1:
      e['evidence'] = b64u(pick(weird));
      break;
    case 2:
      e['runtime_data'] = pick([{ structured: pick(weird) }, { raw: pick(weird) }, { raw: 'AAAA', structured: {} }, pick(weird)]);
      break;
    case 3:
      e['init_data'] = pick([{ init_data_digest: pick(weird) }, { init_data_toml: pick(weird) }, { init_data_toml: '[data]\n"k" = """\n' }, pick(weird)]);
      break;
    case 4:
      base.policy_ids = pick([pick(weird), [pick(weird)], ['team/dev', 'team/dev'], ['../x'], ['team/dev/'], ['team//dev'], Array(9).fill('team/dev')]);
      break;
    case 5:
      base.verification_requests = pick([[], Array(18).fill(e), [e, { ...e, tee: 'sampledevice' }], [pick(weird)], pick(weird) as never]);
      break;
    case 6:
      e['evidence'] = b64u({ svn: pick(weird), report_data: pick(weird), init_data: pick(weird) });
      break;
    case 7:
      e['tee'] = pick(['tdx', 'nvidia', 'snp', 'sampledevice', 'SAMPLE', 'sample ', 'a'.repeat(40)]);
      break;
    case 8:
      e['evidence'] = pick(['', '=', 'a+b/', 'A'.repeat(4097) + '==', '%%%']);
      break;
    default:
      return JSON.stringify(base).slice(0, Math.floor(rand() * 300));
  }
  return base;
}

function request(i: number): { method: string; path: string; raw: Buffer | string } {
  switch (i % 8) {
    case 0:
      return { method: 'POST', path: '/attestation', raw: junk(1 + Math.floor(rand() * 300)) };
    case 1:
      return { method: pick(['GET', 'PUT', 'DELETE', 'PATCH']), path: pick(['/attestation', '/challenge', '/certificate', '/', '/kbs/v0/auth', '/attestation/../certificate', '/%00']), raw: '' };
    case 2:
      return { method: 'POST', path: '/challenge', raw: pick([junk(100), 'x'.repeat(AS_LIMITS.challengeBody + 1), '{}']) };
    default: {
      const m = mutate();
      return { method: 'POST', path: '/attestation', raw: typeof m === 'string' ? m : JSON.stringify(m) };
    }
  }
}

beforeAll(async () => {
  // Production body limits; a high rate limit so the fuzz reaches the handlers (the limiter has its own test).
  as = await startAsHarness({ policies: [policyRecord(NS, 'dev', { allowSampleTee: true, sample: { trustAsAffirming: true } })], rateLimit: { perSecond: 1e6, burst: 1e6 }, concurrency: { active: 16, queued: 64 } });
});
afterAll(() => as.close());

/** Whether a body is a well-formed, correctly bound sample request for team/dev (only those may earn affirming). */
function genuine(raw: Buffer | string): boolean {
  try {
    const b = JSON.parse(raw.toString()) as { verification_requests: Array<Record<string, unknown>>; policy_ids: unknown };
    const [e, ...rest] = b.verification_requests;
    const ev = JSON.parse(Buffer.from(e!['evidence'] as string, 'base64url').toString()) as { report_data: string };
    const rd = (e!['runtime_data'] as { structured: unknown }).structured;
    // Device evidence bound to the same runtime data is genuine too (TNG sends devices that way).
    const devicesBound = rest.every((d) => d['tee'] === 'sampledevice' && d['evidence'] === e!['evidence']);
    return devicesBound && JSON.stringify(b.policy_ids) === '["team/dev"]' && e!['tee'] === 'sample' && ev.report_data === jcsSha384(rd).toString('base64');
  } catch {
    return false;
  }
}

const statusOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as { submods: { cpu0: { 'ear.status': string } } }).submods.cpu0['ear.status'];

function check(r: HttpReply, path: string, raw: Buffer | string, failures: string[], label: string): void {
  const text = r.body.toString('utf8');
  let ok: boolean;
  if (r.status === 200 && path === '/challenge') ok = 'nonce' in (JSON.parse(text) as object);
  else if (r.status === 200 && path === '/certificate') ok = text.startsWith('-----BEGIN CERTIFICATE-----');
  else if (r.status === 200) ok = statusOf(text) !== 'affirming' || genuine(raw); // only a correctly bound request earns affirming
  else {
    const v = JSON.parse(text) as Record<string, unknown>;
    ok = r.status >= 400 && r.status < 500 && typeof v['error'] === 'string' && typeof v['detail'] === 'string' && Object.keys(v).length === 2;
  }
  if (!ok && failures.length < 10) failures.push(`${label} → ${r.status} ${text.slice(0, 200)}`);
}

describe('attestation service fuzz', () => {
  it(`answers ${TOTAL} hostile requests with coded 4xx errors or non-affirming tokens only`, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: as.keyset.caCertPem });
    const failures: string[] = [];
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        const q = request(i);
        try {
          const r = await httpCall(q.method, `${as.url}${q.path}`, { rawBody: q.raw, agent: agent as never, timeoutMs: 10_000, ca: as.keyset.caCertPem });
          check(r, new URL(`${as.url}${q.path}`).pathname, q.raw, failures, `#${i} ${q.method} ${q.path}`);
        } catch (err) {
          if (failures.length < 10) failures.push(`#${i} ${q.method} ${q.path}: transport ${String(err)}`);
        }
        done++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    expect(failures).toEqual([]);
    expect(done).toBe(TOTAL);
    const genuine = await httpCall('POST', `${as.url}/attestation`, { rawBody: tngShapedRequest({ policyId: `${NS}/dev` }).body, ca: as.keyset.caCertPem });
    expect(statusOf(genuine.body.toString())).toBe('affirming');
  });

  it('answers every field at (and over) its production limit with its specific error in bounded time', async () => {
    const L = AS_LIMITS;
    const entry = (patch: Record<string, unknown>) => {
      const b = JSON.parse(tngShapedRequest({ policyId: `${NS}/dev` }).body.toString()) as { verification_requests: Array<Record<string, unknown>> };
      Object.assign(b.verification_requests[0]!, patch);
      return JSON.stringify(b);
    };
    const fill = L.attestationBody - 4096;
    const cases: Array<[string, string | Buffer, RegExp]> = [
      ['body one byte over the limit', Buffer.alloc(L.attestationBody + 1, 0x20), /^BodyTooLarge: request body exceeds 4194304 bytes$|^EPIPE|^ECONNRESET/],
      ['body nested 2 Mi deep', '['.repeat(2 * 1024 * 1024) + ']'.repeat(2 * 1024 * 1024 - 1024), /^BodyTooLarge|^MalformedRequest: the body nests JSON deeper than 32 levels$/],
      ['body nested 1 Mi deep', '['.repeat(1024 * 1024), /^MalformedRequest: the body nests JSON deeper than 32 levels$/],
      ['body of 300k members', '{' + Array.from({ length: 300_000 }, (_, i) => `"${i}":1`).join(',') + '}', /^MalformedRequest: the body has more than 4096 JSON values$/],
      ['body of 4 MiB of spaces', Buffer.alloc(fill, 0x20), /^MalformedRequest: the body is not JSON$/],
      ['evidence filling the body', entry({ evidence: 'A'.repeat(fill) }), /^MalformedRequest: verification_requests\[0\]\.evidence must be base64url text of at most 3145728 characters$/],
      ['evidence at its cap, nested 2 Mi deep', entry({ evidence: b64u('['.repeat((L.evidence / 4) * 3 - 16)).slice(0, L.evidence) }), /^MalformedRequest: verification_requests\[0\]\.evidence: it nests JSON deeper than 32 levels$/],
      ['evidence at its cap, 1 Mi values', entry({ evidence: b64u('[' + '0,'.repeat(1024 * 1024) + '0]').slice(0, L.evidence - 4) }), /^MalformedRequest: verification_requests\[0\]\.evidence: it has more than 65536 JSON values$/],
      ['structured runtime data filling the body', entry({ runtime_data: { structured: { k: 'x'.repeat(fill - 4096) } } }), /^MalformedRequest: verification_requests\[0\]\.runtime_data\.structured must be at most 16384 bytes of JSON$/],
      ['init_data_toml filling the body', entry({ init_data: { init_data_toml: '\n'.repeat(fill / 2 - 4096) } }), /^MalformedRequest: verification_requests\[0\]\.init_data\.init_data_toml must be a string of at most 65536 bytes$/],
      // Accepted at its cap, then appraised: the sample evidence carries no init_data, so the init-data sent
      // with it is not the guest's (InitDataMismatch), and the token says contraindicated.
      ['init_data_toml at its cap, newlines', entry({ init_data: { init_data_toml: '\n'.repeat(L.initDataToml / 2) } }), /^ok:contraindicated$/],
      ['tee filling the body', entry({ tee: 'a'.repeat(fill) }), /^MalformedRequest: verification_requests\[0\]\.tee must be a TEE name/],
      ['policy id filling the body', JSON.stringify({ ...JSON.parse(tngShapedRequest({ policyId: 'x' }).body.toString()), policy_ids: ['a'.repeat(fill)] }), /^InvalidPolicyId: a policy id is a string of 1\.\.571 characters$/],
    ];
    const ca = as.keyset.caCertPem;
    const wrong: string[] = [];
    const times: Record<string, number> = {};
    for (const [label, body, want] of cases) {
      const t0 = performance.now();
      let detail: string;
      try {
        const r = await httpCall('POST', `${as.url}/attestation`, { rawBody: body, ca, timeoutMs: 20_000 });
        const text = r.body.toString();
        if (r.status === 200) detail = `ok:${statusOf(text)}`;
        else {
          const e = JSON.parse(text) as { error: string; detail: string };
          detail = `${e.error}: ${e.detail}`;
        }
      } catch (err) {
        detail = (err as NodeJS.ErrnoException).code ?? String(err);
      }
      times[label] = Math.round(performance.now() - t0);
      if (!want.test(detail)) wrong.push(`${label} → ${detail.slice(0, 200)}`);
    }
    console.log('attestation service production-limit fuzz (ms per request):', times);
    expect(wrong).toEqual([]);
    // Linear work on at most 4 MiB each; the bound leaves room for a loaded CI machine.
    expect(Math.max(...Object.values(times))).toBeLessThan(2000);
  });
});
