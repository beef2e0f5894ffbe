// Same-run reference for bench:kbs: what node:http alone costs for a handshake's three requests. One genuine
// handshake against the KBS is recorded byte for byte (bodies, cookies, status codes); a server that does no
// work answers each path with the recorded reply, and the load generator replays the recorded requests. The
// replay server's CPU per three requests is the transport floor the KBS's own handlers add to.
import { createServer, type Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sampleEvidence } from '../src/attestation/sample/verifier.ts';
import { primaryReportData } from '../src/protocol/runtime-data.ts';
import { generateTeeKeyPair } from '../src/protocol/tee-key.ts';
import { httpCall } from '../src/sim/guest/http.ts';

export interface RecordedExchange {
  method: 'POST' | 'GET';
  path: string;
  body: string;
  /** Whether the request carries the cookie the previous reply set. */
  sendsCookie: boolean;
  status: number;
  reply: string;
  setCookie?: string;
}

/** One genuine auth → attest (sample evidence) → resource handshake against `url`, recorded. */
export async function recordHandshake(url: string, resource: string): Promise<RecordedExchange[]> {
  const out: RecordedExchange[] = [];
  let cookie = '';
  const step = async (method: 'POST' | 'GET', path: string, body?: object) => {
    const raw = body === undefined ? '' : JSON.stringify(body);
    const r = await httpCall(method, `${url}${path}`, { ...(body !== undefined ? { rawBody: raw } : {}), headers: cookie ? { cookie } : {} });
    const set = r.headers['set-cookie'];
    const setCookie = Array.isArray(set) ? set[0] : set;
    out.push({ method, path, body: raw, sendsCookie: cookie !== '', status: r.status, reply: r.body.toString('utf8'), ...(setCookie ? { setCookie } : {}) });
    if (r.status !== 200) throw new Error(`recording ${path}: HTTP ${r.status}`);
    if (setCookie) cookie = setCookie.split(';')[0]!;
    return JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
  };
  const { nonce } = (await step('POST', '/kbs/v0/auth', { version: '0.4.0', tee: 'sample', 'extra-params': '' })) as { nonce: string };
  const tee = generateTeeKeyPair();
  await step('POST', '/kbs/v0/attest', {
    'runtime-data': { nonce, 'tee-pubkey': tee.publicKey },
    'tee-evidence': { primary_evidence: sampleEvidence(primaryReportData(nonce, tee.publicKey, '')), additional_evidence: '' },
  });
  await step('GET', `/kbs/v0/resource/${resource}`);
  return out;
}

/** A server that reads each request body and answers its path with the recorded reply: node:http and nothing else. */
export async function serveReplay(exchanges: RecordedExchange[]): Promise<{ url: string; close(): Promise<void> }> {
  const byPath = new Map(exchanges.map((e) => [e.path, e]));
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, maxHeaderSize: 32 * 1024 }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const e = byPath.get(req.url ?? '');
      const body = e?.reply ?? '{}';
      const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
      if (e?.setCookie) headers['set-cookie'] = e.setCookie;
      res.writeHead(e?.status ?? 404, headers).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

/** `concurrency` clients replaying the recorded handshake in a loop for `seconds`; returns completed handshakes. */
export async function replayLoad(url: string, exchanges: RecordedExchange[], agent: Agent, concurrency: number, seconds: number): Promise<number> {
  let done = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        let cookie = '';
        for (const e of exchanges) {
          const r = await httpCall(e.method, `${url}${e.path}`, { ...(e.body ? { rawBody: e.body } : {}), headers: e.sendsCookie ? { cookie } : {}, agent });
          const set = r.headers['set-cookie'];
          if (set) cookie = (Array.isArray(set) ? set[0]! : set).split(';')[0]!;
        }
        done++;
      }
    }),
  );
  return done;
}
