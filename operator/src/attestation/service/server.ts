// node:http(s) front of the attestation service: routing, bounded bodies, per-client rate limit, a bound on
// verifications in flight, coded JSON errors for everything (malformed HTTP included). The handlers
// (handlers.ts) hold the protocol; this file holds the transport.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { asError, type AsResponse } from './errors.ts';
import { handleAttestation, handleCertificate, handleChallenge, type AsEvent, type AsHandlerDeps } from './handlers.ts';
import { ConcurrencyGate, LogLimiter, RateLimiter } from './limits.ts';
import { AS_LIMITS } from './messages.ts';

export interface AsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AsServerOptions extends Omit<AsHandlerDeps, 'emit'> {
  /** Serve HTTPS with this key/certificate (issued by the AS CA; TNG trusts it via SSL_CERT_FILE). */
  tls?: { key: string; cert: string };
  maxAttestationBodyBytes?: number;
  /** Requests per second per client address (default 50, burst 100). */
  rateLimit?: { perSecond: number; burst: number };
  /** Verifications in flight (default 16) and waiting (default 64); beyond: 503 Busy. */
  concurrency?: { active: number; queued: number };
  logger?: AsLogger;
  onEvent?(e: AsEvent): void;
}

export interface AsServer {
  server: Server | HttpsServer;
  listen(port: number, host?: string): Promise<{ port: number; url: string }>;
  setTls(tls: { key: string; cert: string }): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, r: AsResponse, close = false): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = { 'content-type': r.contentType, 'content-length': String(Buffer.byteLength(r.body)), ...r.headers };
  if (close) headers['connection'] = 'close';
  res.writeHead(r.status, headers).end(r.body);
}

/** Reads at most `limit` bytes; undefined (the rest drained, not buffered) when the body is larger. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => !over && resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
  });
}

const peerOf = (req: IncomingMessage) => (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');

export function createAsServer(opts: AsServerOptions): AsServer {
  const log = opts.logger;
  const logLimit = new LogLimiter(20, 10_000);
  const emit = (e: AsEvent) => {
    if (e.type === 'challenge-issued') log?.info(e, 'attestation service challenge-issued');
    else if (e.type === 'refused' || e.failure || e.status !== 'affirming') {
      const dropped = logLimit.admit(`${e.type}|${e.type === 'refused' ? e.code : (e.failure ?? e.status)}`, opts.now());
      if (dropped !== undefined) log?.warn(dropped ? { ...e, suppressed: dropped } : e, `attestation service ${e.type}`);
    } else log?.info(e, 'attestation service token-issued');
    opts.onEvent?.(e);
  };
  const deps: AsHandlerDeps = { ...opts, emit };
  const rate = new RateLimiter(opts.rateLimit ?? { perSecond: 50, burst: 100 });
  const gate = new ConcurrencyGate(opts.concurrency?.active ?? 16, opts.concurrency?.queued ?? 64);
  const attestationLimit = opts.maxAttestationBodyBytes ?? AS_LIMITS.attestationBody;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    const peer = peerOf(req);
    const known = path === '/certificate' || path === '/attestation' || path === '/challenge';
    if (!known) {
      req.resume();
      return send(res, asError('NotFound', 'the attestation service serves GET /certificate, POST /attestation and POST /challenge'));
    }
    if (!rate.take(peer, opts.now())) {
      req.resume();
      emit({ type: 'refused', code: 'RateLimited', message: 'client exceeded its request rate', peerAddress: peer });
      return send(res, asError('RateLimited', 'too many requests from this client; retry later', { 'retry-after': '1' }), true);
    }
    if (path === '/certificate') {
      req.resume();
      if (method !== 'GET') return send(res, asError('MethodNotAllowed', '/certificate accepts GET only'));
      return send(res, handleCertificate(deps));
    }
    if (method !== 'POST') {
      req.resume();
      return send(res, asError('MethodNotAllowed', `${path} accepts POST only`));
    }
    const limit = path === '/attestation' ? attestationLimit : AS_LIMITS.challengeBody;
    const body = await readBody(req, limit);
    if (body === undefined) return send(res, asError('BodyTooLarge', `request body exceeds ${limit} bytes`), true);
    if (path === '/challenge') return send(res, handleChallenge(deps, peer));
    if (!(await gate.acquire())) {
      emit({ type: 'refused', code: 'Busy', message: 'verification queue is full', peerAddress: peer });
      return send(res, asError('Busy', 'the attestation service is at its verification limit; retry later', { 'retry-after': '1' }));
    }
    try {
      send(res, await handleAttestation(deps, body, peer));
    } finally {
      gate.release();
    }
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch(() => send(res, asError('InternalError', 'internal error'), true));
  };
  const limits = { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, maxHeaderSize: 16 * 1024 };
  const server = opts.tls ? createHttpsServer({ ...limits, key: opts.tls.key, cert: opts.tls.cert }, handler) : createServer(limits, handler);
  server.on('clientError', (_e, socket) => {
    if (!socket.writable) return socket.destroy();
    const body = asError('MalformedRequest', 'malformed HTTP request').body;
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
  return {
    server,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const a = server.address() as AddressInfo;
          resolve({ port: a.port, url: `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${a.port}` });
        });
      });
    },
    setTls(tls) {
      if (!opts.tls) throw new TypeError('setTls on a plain HTTP attestation service');
      (server as HttpsServer).setSecureContext({ key: tls.key, cert: tls.cert });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
