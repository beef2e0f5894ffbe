// NVIDIA OCSP client: one POST per certificate (application/ocsp-request), fresh 32-byte nonce, verified
// answers cached per CertID until their nextUpdate. Outages are reported as 'unavailable', never thrown,
// so the verifier can apply the policy (Require / Prefer / Skip).
import { randomBytes } from 'node:crypto';
import { NvidiaError } from './errors.ts';
import { LruCache } from './lru.ts';
import { buildOcspRequest, certIdFor, certIdKey, verifyOcspResponse, type OcspVerdict } from './ocsp.ts';
import type { ChainKind, ParsedCert } from './x509-chain.ts';
import { fetchBounded, type EgressError } from '../../net/egress.ts';

export const DEFAULT_OCSP_URL = 'https://ocsp.ndis.nvidia.com/';
/** Cap on one OCSP response: a signed BasicOCSPResponse with its responder certificate is 1-4 KiB. */
export const OCSP_RESPONSE_CAP = 64 * 1024;

export interface OcspQuery {
  cert: ParsedCert;
  issuer: ParsedCert;
  /** Pinned root of the chain `cert` belongs to (the responder must chain to it or be the issuer). */
  root: ParsedCert;
  kind: ChainKind;
  at: Date;
  /** Responder URL from the policy; the client default otherwise. */
  url?: string;
}

export type OcspCheck =
  | { status: 'good' | 'revoked' | 'unknown'; verdict: OcspVerdict; cached: boolean }
  | { status: 'unavailable'; reason: string }
  | { status: 'invalid'; reason: string };

export interface OcspClient {
  check(query: OcspQuery): Promise<OcspCheck>;
}

export interface HttpOcspClientOptions {
  url?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  cacheSize?: number;
  /** Nonce source (tests may pin it; production uses 32 random bytes per request). */
  nonce?: () => Uint8Array;
  /** Told the earliest validUntil among cached answers after each new one (the operator's metrics). */
  observer?: { ocspCacheValidUntil(earliest: Date): void };
}

export class HttpOcspClient implements OcspClient {
  private readonly url: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  private readonly nonce: () => Uint8Array;
  private readonly cache: LruCache<string, OcspVerdict>;
  /** CertIDs per (cert, issuer) object pair; parsed certificates are themselves memoized upstream. */
  private readonly ids = new WeakMap<ParsedCert, WeakMap<ParsedCert, string>>();
  /** Concurrent checks of the same certificate (one per GPU on an HGX board) share one request. */
  private readonly inflight = new Map<string, Promise<OcspCheck>>();
  private readonly observer: HttpOcspClientOptions['observer'];

  constructor(options: HttpOcspClientOptions = {}) {
    this.url = options.url ?? DEFAULT_OCSP_URL;
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.nonce = options.nonce ?? (() => new Uint8Array(randomBytes(32)));
    this.cache = new LruCache(options.cacheSize ?? 1024);
    this.observer = options.observer;
  }

  async check(q: OcspQuery): Promise<OcspCheck> {
    const url = q.url ?? this.url;
    const byIssuer = this.ids.get(q.cert) ?? new WeakMap<ParsedCert, string>();
    this.ids.set(q.cert, byIssuer);
    let idKey = byIssuer.get(q.issuer);
    if (idKey === undefined) {
      idKey = certIdKey(certIdFor(q.cert, q.issuer));
      byIssuer.set(q.issuer, idKey);
    }
    const key = `${url} ${idKey}`;
    const hit = this.cache.get(key);
    if (hit && hit.thisUpdate.getTime() <= q.at.getTime() + 300_000 && hit.validUntil >= q.at) {
      return { status: hit.status, verdict: hit, cached: true };
    }
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const request = this.fetchAndVerify(q, url, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, request);
    return request;
  }

  private async fetchAndVerify(q: OcspQuery, url: string, key: string): Promise<OcspCheck> {
    const id = certIdFor(q.cert, q.issuer);
    const nonce = this.nonce();
    let body: Uint8Array;
    try {
      const res = await fetchBounded(url, {
        method: 'POST',
        headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
        body: buildOcspRequest(id, nonce),
        maxBytes: OCSP_RESPONSE_CAP,
        timeoutMs: this.timeoutMs,
        readStatuses: [200],
        fetch: this.fetchImpl,
      });
      if (res.status !== 200) return { status: 'unavailable', reason: `OCSP responder answered HTTP ${res.status}` };
      body = res.body;
    } catch (err) {
      const e = err as EgressError;
      const why =
        e.code === 'Timeout' ? `timed out after ${this.timeoutMs} ms`
        : e.code === 'BodyTooLarge' ? `response exceeds ${OCSP_RESPONSE_CAP} bytes`
        : e.code === 'RedirectRefused' ? 'answered with a redirect (not followed)'
        : 'connection failed';
      return { status: 'unavailable', reason: `OCSP responder ${new URL(url).origin} unreachable: ${why}` };
    }
    try {
      const verdict = verifyOcspResponse(body, { id, nonce, issuer: q.issuer, root: q.root, kind: q.kind, at: q.at });
      this.cache.set(key, verdict);
      if (this.observer) {
        let earliest = verdict.validUntil;
        for (const v of this.cache.values()) if (v.validUntil < earliest) earliest = v.validUntil;
        this.observer.ocspCacheValidUntil(earliest);
      }
      return { status: verdict.status, verdict, cached: false };
    } catch (err) {
      return { status: 'invalid', reason: err instanceof NvidiaError ? err.message : 'OCSP response could not be verified' };
    }
  }
}
