// Hostile KBS requests at the production limits: every client-supplied field at (and just over) its cap,
// and bodies filled to the production body limits, plus a runner that records per-request latency.
// Used by release/kbs/fuzz.test.ts (in process) and test/integration/kbs-isolation.test.ts (from a worker).
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { KBS_LIMITS } from '../../src/release/kbs/messages.ts';
import type { TeePubKey } from '../../src/protocol/tee-key.ts';

export const PRODUCTION_ATTEST_BODY = 4 * 1024 * 1024;
export const PRODUCTION_AUTH_BODY = 64 * 1024;

export interface FuzzCase {
  label: string;
  method: 'GET' | 'POST';
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
  /** Sent after a fresh /auth with that session's cookie, so parsing is reached. */
  withSession?: boolean;
}

/** JSON text padded with trailing spaces (still valid JSON) to exactly `size` bytes. */
export function padTo(value: unknown, size: number): Buffer {
  const text = Buffer.from(JSON.stringify(value));
  if (text.length > size) throw new RangeError(`value is ${text.length} bytes, more than ${size}`);
  return Buffer.concat([text, Buffer.alloc(size - text.length, 0x20)]);
}

/** The largest string that keeps `build(s)` at most `size` bytes of JSON (s made of `unit`, 1-byte JSON each). */
function fill(build: (s: string) => unknown, size: number, unit = 'a'): Buffer {
  const overhead = Buffer.byteLength(JSON.stringify(build('')));
  return padTo(build(unit.repeat(size - overhead)), size);
}

export function productionLimitCases(key: TeePubKey): FuzzCase[] {
  const A = PRODUCTION_ATTEST_BODY;
  const attestation = (over: { init?: unknown; nonce?: unknown; pubkey?: unknown; primary?: unknown; additional?: unknown }) => ({
    ...(over.init !== undefined ? { 'init-data': over.init } : {}),
    'runtime-data': { nonce: over.nonce ?? 'AAAA', 'tee-pubkey': over.pubkey ?? key },
    'tee-evidence': { primary_evidence: over.primary ?? { svn: '1' }, additional_evidence: over.additional ?? '' },
  });
  const attest = (label: string, body: Buffer): FuzzCase => ({ label, method: 'POST', path: 'attest', body, withSession: true });
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  return [
    attest('init-data.body of newlines filling the 4 MiB body', fill((s) => attestation({ init: { format: 'toml', body: s } }), A, 'a')),
    attest('init-data.body of 2 Mi newlines (4 MiB of JSON)', padTo(attestation({ init: { format: 'toml', body: '\n'.repeat((A - 400) / 2) } }), A)),
    attest('init-data.body at its 64 KiB cap, newlines', padTo(attestation({ init: { format: 'toml', body: '\n'.repeat(KBS_LIMITS.initDataBody) } }), A)),
    attest('init-data.body at its cap, one algorithm line at the end', padTo(attestation({ init: { format: 'toml', body: ' \n'.repeat(KBS_LIMITS.initDataBody / 2 - 20) + 'algorithm="sha256"' } }), A)),
    attest('init-data.format filling the body', fill((s) => attestation({ init: { format: s, body: '' } }), A)),
    attest('runtime-data.nonce filling the body', fill((s) => attestation({ nonce: s }), A)),
    attest('tee-pubkey.x filling the body', fill((s) => attestation({ pubkey: { ...key, x: s } }), A)),
    attest('tee-pubkey.alg filling the body', fill((s) => attestation({ pubkey: { ...key, alg: s } }), A)),
    attest('primary_evidence filling the body', fill((s) => attestation({ primary: { quote: s } }), A)),
    attest('primary_evidence of 300k small members', padTo(attestation({ primary: Object.fromEntries(Array.from({ length: 300_000 }, (_, i) => [`k${i}`, 1])) }), A)),
    attest('additional_evidence filling the body', fill((s) => attestation({ additional: s }), A)),
    attest('additional_evidence nested 1 Mi deep', padTo(attestation({ additional: deep(1_000_000) }), A)),
    attest('body nested 2 Mi deep', Buffer.from('['.repeat(A))),
    attest('body of 4 MiB of spaces', Buffer.alloc(A, 0x20)),
    attest('body one byte over the limit', Buffer.alloc(A + 1, 0x20)),
    { label: '/auth extra-params filling its 64 KiB body', method: 'POST', path: 'auth', body: fill((s) => ({ version: '0.4.0', tee: 'sample', 'extra-params': s }), PRODUCTION_AUTH_BODY) },
    { label: '/auth nested 64 Ki deep', method: 'POST', path: 'auth', body: Buffer.from('{"a":'.repeat(PRODUCTION_AUTH_BODY / 5)) },
    { label: '/auth version filling the body', method: 'POST', path: 'auth', body: fill((s) => ({ version: s, tee: 'sample', 'extra-params': '' }), PRODUCTION_AUTH_BODY) },
    { label: '/resource with a 12 KB bearer token', method: 'GET', path: 'resource/default/local-resources/x', headers: { authorization: `Bearer ${'e'.repeat(12_000)}` } },
  ];
}

export interface FuzzReply {
  status: number;
  body: string;
  ms: number;
  /** `kbs-session-id=…` from Set-Cookie, if any. */
  cookie?: string;
}

/** One request on a fresh connection; resolves with status, body (capped) and elapsed ms (send → end). */
export function send(url: string, c: { method: string; body?: Buffer; headers?: Record<string, string> }, opts: { ca?: string; localAddress?: string; timeoutMs?: number } = {}): Promise<FuzzReply> {
  const https = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const headers: Record<string, string> = { ...(c.headers ?? {}), ...(c.body ? { 'content-type': 'application/json', 'content-length': String(c.body.length) } : {}) };
    const options = {
      method: c.method,
      headers,
      timeout: opts.timeoutMs ?? 60_000,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(https ? { agent: new HttpsAgent({ keepAlive: false, ...(opts.ca ? { ca: opts.ca } : {}) }) } : { agent: new HttpAgent({ keepAlive: false }) }),
    };
    const onRes = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size <= 65_536) chunks.push(d);
      });
      const cookie = String(res.headers['set-cookie'] ?? '').split(';')[0];
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started, ...(cookie ? { cookie } : {}) }));
      res.on('error', reject);
    };
    const req = https ? httpsRequest(url, options, onRes) : httpRequest(url, options, onRes);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server may answer an over-limit body and close before all of it is written.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') resolve({ status: -1, body: err.code, ms: performance.now() - started });
      else reject(err);
    });
    req.end(c.body);
  });
}

export interface FuzzResult {
  requests: number;
  latencies: Array<{ label: string; ms: number; status: number; detail: string }>;
}

/** Sends the cases round-robin from `concurrency` loops until `until()` is false or `rounds` are done. */
export async function runFuzz(
  baseUrl: string,
  cases: FuzzCase[],
  opts: { concurrency: number; rounds?: number; until?: () => boolean; ca?: string },
): Promise<FuzzResult> {
  const latencies: FuzzResult['latencies'] = [];
  let next = 0;
  const total = opts.rounds !== undefined ? opts.rounds * cases.length : Infinity;
  const url = (p: string) => `${baseUrl}/kbs/v0/${p}`;
  const loop = async () => {
    while (next < total && (opts.until?.() ?? true)) {
      const c = cases[next++ % cases.length]!;
      const headers = { ...(c.headers ?? {}) };
      if (c.withSession) {
        const auth = await send(url('auth'), { method: 'POST', body: Buffer.from('{"version":"0.4.0","tee":"sample","extra-params":""}') }, opts.ca ? { ca: opts.ca } : {});
        if (auth.cookie) headers['cookie'] = auth.cookie;
      }
      const r = await send(url(c.path), { method: c.method, ...(c.body ? { body: c.body } : {}), headers }, opts.ca ? { ca: opts.ca } : {});
      // A hostile /attest refused before the handler (e.g. over the body limit) leaves its session unused; use it
      // up, as a client would, so the fuzzer does not hold the unauthenticated allowance of the address it shares
      // with the genuine requests it is measured against (sessions.ts caps it per address).
      if (c.withSession && headers['cookie']) await send(url('attest'), { method: 'POST', body: Buffer.from('{}'), headers: { cookie: headers['cookie'] } }, opts.ca ? { ca: opts.ca } : {});
      let detail = r.body;
      try {
        detail = (JSON.parse(r.body) as { detail: string }).detail;
      } catch {
        // not ErrorInformation: keep the raw (capped) body for the failure message
      }
      latencies.push({ label: c.label, ms: r.ms, status: r.status, detail: detail.slice(0, 160) });
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  return { requests: latencies.length, latencies };
}
