// Egress to trust-material services (PCCS, Rekor, RIM, OCSP): one bounded HTTP exchange, and the
// operator-level URL allow-list that tenant-supplied URLs (AttestationPolicy rekor.url, pccsUrl) must match.
// Failures are EgressError with a stable code and a fixed sentence: never the peer's body, never the
// peer's error text, so nothing a hostile or internal server says can reach status, Events or logs.
import { BodyTooLargeError, readBodyBounded } from './bounded-body.ts';

export type EgressErrorCode = 'Timeout' | 'ConnectionFailed' | 'RedirectRefused' | 'BodyTooLarge' | 'UrlNotAllowed' | 'UrlInvalid';

export class EgressError extends Error {
  readonly code: EgressErrorCode;
  constructor(code: EgressErrorCode, message: string) {
    super(message);
    this.name = 'EgressError';
    this.code = code;
  }
}

export interface BoundedRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Hard cap on the response body (streamed; Content-Length is not trusted). */
  maxBytes: number;
  /** Whole exchange, body included. */
  timeoutMs: number;
  /** The body is read only for these statuses; for others it is discarded unread. */
  readStatuses: readonly number[];
  fetch?: typeof fetch;
}

export interface BoundedResponse {
  status: number;
  headers: Headers;
  /** Empty unless `status` is in readStatuses. */
  body: Uint8Array;
}

/** Origin + path of a URL, without query, fragment or credentials: safe to name in a message. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * One request; redirects are refused (a 3xx could point anywhere, including off the allow-list), the
 * body is capped and the timeout covers reading it. Throws EgressError; HTTP error statuses are returned.
 */
export async function fetchBounded(url: string, req: BoundedRequest): Promise<BoundedResponse> {
  const where = describeUrl(url);
  const signal = AbortSignal.timeout(req.timeoutMs);
  const timedOut = () => new EgressError('Timeout', `${where}: no complete answer within ${req.timeoutMs} ms`);
  let res: Response;
  try {
    res = await (req.fetch ?? fetch)(url, {
      method: req.method ?? 'GET',
      ...(req.headers ? { headers: req.headers } : {}),
      ...(req.body !== undefined ? { body: req.body } : {}),
      signal,
      redirect: 'manual',
    });
  } catch {
    throw signal.aborted ? timedOut() : new EgressError('ConnectionFailed', `${where}: connection failed`);
  }
  if ((res.status >= 300 && res.status < 400) || res.type === 'opaqueredirect') {
    await res.body?.cancel().catch(() => undefined);
    throw new EgressError('RedirectRefused', `${where}: answered with a redirect (HTTP ${res.status}); redirects are not followed`);
  }
  if (!req.readStatuses.includes(res.status)) {
    await res.body?.cancel().catch(() => undefined);
    return { status: res.status, headers: res.headers, body: new Uint8Array(0) };
  }
  try {
    return { status: res.status, headers: res.headers, body: await readBodyBounded(res, req.maxBytes) };
  } catch (e) {
    if (e instanceof BodyTooLargeError) throw new EgressError('BodyTooLarge', `${where}: response body exceeds ${req.maxBytes} bytes`);
    throw signal.aborted ? timedOut() : new EgressError('ConnectionFailed', `${where}: connection failed while reading the response`);
  }
}

/** One allow-list entry: scheme, host and port must be equal; the path must start with `path` at a segment boundary. */
export interface UrlPrefix {
  origin: string;
  path: string; // always ends with '/'
  text: string;
}

/** Parses `https://host[:port][/path]` entries (operator flags). Throws EgressError('UrlInvalid') naming the entry. */
export function parseUrlPrefixes(list: readonly string[], what: string): UrlPrefix[] {
  return list.map((text) => {
    let u: URL;
    try {
      u = new URL(text);
    } catch {
      throw new EgressError('UrlInvalid', `${what}: '${text}' is not a URL`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new EgressError('UrlInvalid', `${what}: '${text}' must be http(s)`);
    if (u.username || u.password || u.search || u.hash) throw new EgressError('UrlInvalid', `${what}: '${text}' must not carry credentials, a query or a fragment`);
    const path = u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`;
    return { origin: u.origin, path, text: `${u.origin}${path}` };
  });
}

/**
 * Does `url` fall under one of the prefixes? Compared after WHATWG URL normalisation (case, default
 * ports, dot segments), so `https://rekor.sigstore.dev.evil.example` or `https://rekor.sigstore.dev@evil`
 * do not match `https://rekor.sigstore.dev`. Returns the reason when it does not.
 */
export function checkUrlAllowed(url: string, prefixes: readonly UrlPrefix[]): { ok: true } | { ok: false; why: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, why: 'is not a URL' };
  }
  if (u.username || u.password) return { ok: false, why: 'carries credentials' };
  const path = u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`;
  if (prefixes.some((p) => p.origin === u.origin && path.startsWith(p.path))) return { ok: true };
  return {
    ok: false,
    why: prefixes.length === 0 ? 'is not allowed (the allow-list is empty)' : `is not under an allowed prefix (${prefixes.map((p) => p.text).join(', ')}; scheme, host and port must be equal and the path must start with the prefix path)`,
  };
}
