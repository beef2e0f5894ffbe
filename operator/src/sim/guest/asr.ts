// The simulated guest's ASR endpoint (the CoCo "API Server Rest" a TNG egress with
// `attest: {aa_provider: "coco_asr", asr_addr}` asks for evidence):
//   GET /info                                              → {"tee": "<tee>"}
//   GET /aa/evidence?runtime_data=<base64>&encoding=base64 → the evidence JSON bytes, bound to runtime_data
// TNG passes SHA-384(JCS(its runtime data)) as runtime_data (standard base64 in TNG 2.12; base64url is
// accepted too). By default the evidence is the sample TEE's, carrying the init-data digest the guest was
// launched with (as a TDX guest carries it in MRCONFIGID), so an agent-scoped policy id can tell instances
// apart. Loopback only; nothing here is secret, and nothing here is trustworthy (sample = no hardware).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sampleEvidence } from '../../attestation/sample/verifier.ts';
import type { JsonValue } from '../../attestation/verifier.ts';

export interface AsrOptions {
  /** KBS `Tee` name reported by /info (default `sample`). */
  tee?: string;
  /** Sample evidence svn (default "1"). */
  svn?: string;
  /** The init-data digest this guest launched with (protocol/agent-init-data.ts agentInitDataDigest). */
  initDataDigest?: Uint8Array;
  /** Another evidence source (e.g. real TDX fixtures in tests); receives the runtime-data bytes. */
  evidence?: (runtimeData: Buffer) => JsonValue | Promise<JsonValue>;
}

const B64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const MAX_RUNTIME_DATA = 64;

function reply(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)) }).end(body);
}

/** The runtime-data bytes of an /aa/evidence query, or a sentence saying what is wrong. */
export function parseEvidenceQuery(search: URLSearchParams): { ok: true; runtimeData: Buffer } | { ok: false; message: string } {
  const rd = search.get('runtime_data');
  const encoding = search.get('encoding') ?? 'base64';
  if (encoding !== 'base64') return { ok: false, message: 'encoding must be base64' };
  if (rd === null || rd.length === 0 || rd.length > 128 || !B64.test(rd)) return { ok: false, message: 'runtime_data must be base64 of at most 64 bytes' };
  const bytes = Buffer.from(rd.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length === 0 || bytes.length > MAX_RUNTIME_DATA) return { ok: false, message: 'runtime_data must be base64 of at most 64 bytes' };
  return { ok: true, runtimeData: bytes };
}

/** The request handler (the guest mounts it on its own listener, or startAsr gives it one). */
export function asrHandler(opts: AsrOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const tee = opts.tee ?? 'sample';
  const evidence = opts.evidence ?? ((rd: Buffer) => sampleEvidence(rd, opts.svn ?? '1', opts.initDataDigest));
  return (req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://asr.invalid');
    if (req.method !== 'GET') return reply(res, 405, JSON.stringify({ error: 'only GET is served' }));
    if (url.pathname === '/info') return reply(res, 200, JSON.stringify({ tee }));
    if (url.pathname !== '/aa/evidence') return reply(res, 404, JSON.stringify({ error: 'not found' }));
    const q = parseEvidenceQuery(url.searchParams);
    if (!q.ok) return reply(res, 400, JSON.stringify({ error: q.message }));
    Promise.resolve(evidence(q.runtimeData)).then(
      (ev) => reply(res, 200, JSON.stringify(ev)),
      () => reply(res, 500, JSON.stringify({ error: 'evidence could not be produced' })),
    );
  };
}

export interface AsrServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** An ASR on its own loopback listener. */
export async function startAsr(opts: AsrOptions & { host?: string; port?: number } = {}): Promise<AsrServer> {
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, asrHandler(opts));
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
