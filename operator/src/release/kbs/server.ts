// node:http front of the KBS: routing under /kbs/v0, bounded bodies, cookie/Authorization extraction and
// KBS ErrorInformation for every failure (including malformed HTTP, via clientError), so unmodified
// attestation-agent / confidential-data-hub / kbs-client talk to it as to trustee.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { EarSigner, EcPublicJwk } from '../../attestation/policy/ear.ts';
import type { VerifierRegistry } from '../../attestation/registry.ts';
import { normalizeAddress } from './decide-release.ts';
import { kbsError, type KbsErrorResponse } from './errors.ts';
import { handleAttest, handleAuth, handleResource, parseResourcePath, SESSION_COOKIE, type HandlerDeps, type HandlerResponse } from './handlers.ts';
import { SessionStore } from './sessions.ts';
import { generateSessionKey, MAX_COOKIE_CHARS, SessionCookies, type SessionKeys } from './session-cookie.ts';
import type { Entitlements, KbsEvent, KbsLogger, PolicyContext, PolicyQuery } from './types.ts';

export interface KbsServerOptions {
  registry: VerifierRegistry;
  signer: EarSigner;
  /** Keys whose EAR tokens are accepted as Bearer (default: the signer's); add retired signer keys here. */
  trustedEarKeys?: EcPublicJwk[];
  policyFor(query: PolicyQuery): Promise<PolicyContext | undefined>;
  /** Whether /auth from an address may open a session (default: any). Production: admitsFromLists. */
  admits?(q: { peerAddress: string; tee: string }): boolean;
  entitlements: Entitlements;
  now?: () => number;
  sessionTtlSeconds?: number;
  tokenTtlSeconds?: number;
  maxSessions?: number;
  /** Refusal log lines per event type and code per 10 s (default 20); the rest are counted into the next. */
  refusalLogsPerWindow?: number;
  /** Unauthenticated sessions per client address (default 32). */
  maxPendingSessionsPerAddress?: number;
  maxAuthBodyBytes?: number;
  maxAttestBodyBytes?: number;
  logger?: KbsLogger;
  onEvent?: (e: KbsEvent) => void;
  /** Told each answered request's endpoint and status, and the session count after it (the operator's metrics). */
  observer?: KbsRequestObserver;
  /**
   * Keys of the session cookie. Replicas that share them continue each other's handshakes (the operator
   * keeps them in a Secret); default: a random key of this server's own.
   */
  sessionKeys?: SessionKeys;
  /** Serve HTTPS with this PEM key/certificate (guests pass the CA as KBS_CERT); plain HTTP otherwise. */
  tls?: { key: string; cert: string };
}

export type KbsEndpoint = 'auth' | 'attest' | 'resource' | 'other';
export interface KbsRequestObserver {
  kbsRequest(endpoint: KbsEndpoint, code: number): void;
  kbsSessions(n: number): void;
}

/** The endpoint label of a request path: one of four words whatever the requester sent. */
export function endpointOf(url: string | undefined): KbsEndpoint {
  const m = /^\/kbs\/v0\/(auth|attest|resource)(?:[/?]|$)/.exec(url ?? '');
  return (m?.[1] as KbsEndpoint | undefined) ?? 'other';
}

export interface KbsServer {
  server: Server | HttpsServer;
  sessions: SessionStore;
  listen(port: number, host?: string): Promise<{ port: number; url: string }>;
  /** Replace the TLS key/certificate (HTTPS servers only): new connections get the new one. */
  setTls(tls: { key: string; cert: string }): void;
  /** Rotate the session cookie keys (new cookies sealed with `current`; `previous` still opens). */
  setSessionKeys(keys: SessionKeys): void;
  close(): Promise<void>;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * At most `max` log lines per key per window, so a flood of refused requests cannot flood the logs (or the
 * operator's main thread, which writes them). admit() returns undefined to drop a line, else how many were
 * dropped since the last one logged.
 */
export class LogLimiter {
  readonly #windows = new Map<string, { start: number; count: number; dropped: number }>();
  readonly #max: number;
  readonly #windowMs: number;
  constructor(max: number, windowMs: number) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  admit(key: string, now: number): number | undefined {
    let w = this.#windows.get(key);
    if (!w || now - w.start >= this.#windowMs) {
      if (this.#windows.size > 1000) this.#windows.clear();
      w = { start: now, count: 0, dropped: w?.dropped ?? 0 };
      this.#windows.set(key, w);
    }
    if (w.count >= this.#max) {
      w.dropped++;
      return undefined;
    }
    w.count++;
    const dropped = w.dropped;
    w.dropped = 0;
    return dropped;
  }
}

function cookieValue(header: string | undefined): string | undefined {
  if (!header || header.length > MAX_COOKIE_CHARS + 1024) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === SESSION_COOKIE) return v.join('=');
  }
  return undefined;
}

function send(res: ServerResponse, r: HandlerResponse, close = false): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = { ...JSON_HEADERS, 'content-length': String(Buffer.byteLength(r.body)) };
  if (r.setCookie) headers['set-cookie'] = r.setCookie;
  if (close) headers['connection'] = 'close';
  res.writeHead(r.status, headers).end(r.body);
}

const sendError = (res: ServerResponse, e: KbsErrorResponse, close = false) => send(res, { status: e.status, body: e.body }, close);

/** Reads at most `limit` bytes; undefined (and the request drained) when the body is larger. */
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

export function createKbsServer(opts: KbsServerOptions): KbsServer {
  const now = opts.now ?? Date.now;
  const sessions = new SessionStore({
    ttlSeconds: opts.sessionTtlSeconds ?? 300,
    maxSessions: opts.maxSessions ?? 10_000,
    ...(opts.maxPendingSessionsPerAddress ? { maxPendingPerAddress: opts.maxPendingSessionsPerAddress } : {}),
    now,
  });
  const cookies = new SessionCookies(opts.sessionKeys ?? { current: generateSessionKey() });
  const log = opts.logger;
  const refusalLog = new LogLimiter(opts.refusalLogsPerWindow ?? 20, 10_000);
  const deps: HandlerDeps = {
    sessions,
    cookies,
    admits: opts.admits ?? (() => true),
    registry: opts.registry,
    signer: opts.signer,
    trustedEarKeys: opts.trustedEarKeys ?? [opts.signer.publicJwk],
    policyFor: opts.policyFor,
    entitlements: opts.entitlements,
    now,
    tokenTtlSeconds: opts.tokenTtlSeconds ?? 300,
    emit: (e) => {
      if (e.type === 'attestation-refused' || e.type === 'release-refused') {
        const suppressed = refusalLog.admit(`${e.type}|${e.code}`, now());
        if (suppressed !== undefined) log?.warn(suppressed ? { ...e, suppressed } : e, `kbs ${e.type}`);
      }
      else if (e.type === 'attested' && e.sampleTee) log?.warn(e, 'kbs attested a sample TEE (no hardware security; development only)');
      else log?.info(e, `kbs ${e.type}`);
      opts.onEvent?.(e);
    },
  };
  const authLimit = opts.maxAuthBodyBytes ?? 64 * 1024;
  const attestLimit = opts.maxAttestBodyBytes ?? 4 * 1024 * 1024;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    const peer = normalizeAddress(req.socket.remoteAddress) ?? '';
    if (!path.startsWith('/kbs/v0/')) return sendError(res, kbsError('PluginNotFound', 'not a KBS v0 endpoint'));
    const [plugin, ...rest] = path.slice('/kbs/v0/'.length).split('/');
    const method = req.method ?? 'GET';
    const limit = plugin === 'attest' ? attestLimit : authLimit;
    const body = await readBody(req, limit);
    if (body === undefined) return sendError(res, kbsError('SerdeError', `request body exceeds ${limit} bytes`), true);
    if (plugin === 'auth' && rest.length === 0) {
      if (method !== 'POST') return sendError(res, kbsError('InvalidRequestPath', '/auth accepts POST only'));
      return send(res, handleAuth(deps, body, peer));
    }
    if (plugin === 'attest' && rest.length === 0) {
      if (method !== 'POST') return sendError(res, kbsError('InvalidRequestPath', '/attest accepts POST only'));
      return send(res, await handleAttest(deps, body, cookieValue(req.headers.cookie), peer));
    }
    if (plugin === 'resource') {
      const resourcePath = parseResourcePath(rest.join('/'));
      if (!resourcePath) return sendError(res, kbsError('InvalidRequestPath', 'resource path must be <repo>/<type>/<tag> of [A-Za-z0-9_.-] segments'));
      if (method !== 'GET') return sendError(res, kbsError('AdminAuthAccess', 'the admin API is disabled: resources come from SealedCredentials'));
      return send(res, await handleResource(deps, resourcePath, cookieValue(req.headers.cookie), req.headers.authorization, peer));
    }
    if (['attestation-policy', 'resource-policy', 'reference-value'].includes(plugin ?? '')) {
      return sendError(res, kbsError('AdminAuthAccess', 'the admin API is disabled: policies and reference values come from AttestationPolicies'));
    }
    return sendError(res, kbsError('PluginNotFound', 'unknown KBS plugin'));
  }

  const observer = opts.observer;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (observer) {
      const endpoint = endpointOf(req.url);
      res.once('finish', () => {
        observer.kbsRequest(endpoint, res.statusCode);
        observer.kbsSessions(sessions.size);
      });
    }
    route(req, res).catch(() => sendError(res, kbsError('PluginInternalError', 'internal error'), true));
  };
  // Headers may carry an attested session cookie (an encrypted EAR, a few KB), hence 32 KiB.
  const limits = { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, maxHeaderSize: 32 * 1024 };
  const server = opts.tls ? createHttpsServer({ ...limits, key: opts.tls.key, cert: opts.tls.cert }, handler) : createServer(limits, handler);
  server.on('clientError', (_e, socket) => {
    if (!socket.writable) return socket.destroy();
    const body = kbsError('SerdeError', 'malformed HTTP request').body;
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });

  return {
    server,
    sessions,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const a = server.address() as AddressInfo;
          resolve({ port: a.port, url: `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${a.port}` });
        });
      });
    },
    setSessionKeys: (keys) => cookies.setKeys(keys),
    setTls(tls) {
      if (!opts.tls) throw new TypeError('setTls on a plain HTTP KBS server');
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
