// Where RIM XML comes from. Verification never trusts the source: every RIM is signature-checked to the
// pinned root, so sources only need to find bytes. Implementations: NVIDIA RIM service over HTTP (with
// cache), a directory (air-gapped volume, `cai verify gpu --rim-dir`), and an in-memory map that the
// operator fills from a ConfigMap (keys = RIM ids, values = RIM XML).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NvidiaError } from './errors.ts';
import { LruCache } from './lru.ts';
import { isSafeRimId } from './rim-id.ts';
import { fetchBounded, type BoundedResponse, type EgressError } from '../../net/egress.ts';

export const DEFAULT_RIM_SERVICE_URL = 'https://rim.attestation.nvidia.com/v1/rim/';
/** Cap on one RIM service reply: NVIDIA's RIMs are 10-200 KiB of XML, base64 in JSON adds a third. */
export const RIM_RESPONSE_CAP = 4 * 1024 * 1024;

/** Per-request hints taken from the AttestationPolicy `gpu` section. */
export interface RimLookupContext {
  serviceUrl?: string;
  configMapName?: string;
}

export interface RimSource {
  /**
   * The RIM XML for `rimId`, or `undefined` when the source definitely has none.
   * Throws NvidiaError `RimUnavailable` when the source cannot answer (outage, timeout, bad reply).
   */
  getRim(rimId: string, context?: RimLookupContext): Promise<string | undefined>;
}

function checkId(rimId: string): void {
  if (!isSafeRimId(rimId)) throw new NvidiaError('RimMissing', `RIM id '${rimId.slice(0, 64)}' contains characters outside [A-Za-z0-9_.-]`);
}

/** RIM service body: {"id": ..., "rim": base64(xml), ...}. Raw XML bodies are accepted too. */
export function decodeRimServiceBody(body: string, rimId: string): string {
  const trimmed = body.trimStart();
  if (trimmed.startsWith('<')) return body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new NvidiaError('RimUnavailable', `RIM service reply for ${rimId} is neither JSON nor XML`);
  }
  const rim = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).rim : undefined;
  if (typeof rim !== 'string' || rim.length === 0) throw new NvidiaError('RimUnavailable', `RIM service reply for ${rimId} has no 'rim' field`);
  return Buffer.from(rim, 'base64').toString('utf8');
}

/** In-memory RIMs (the operator's ConfigMap view). `replace` swaps the whole set atomically. */
export class MapRimSource implements RimSource {
  private rims: ReadonlyMap<string, string>;

  constructor(rims: ReadonlyMap<string, string>) {
    this.rims = new Map(rims);
  }

  replace(rims: ReadonlyMap<string, string>): void {
    this.rims = new Map(rims);
  }

  getRim(rimId: string): Promise<string | undefined> {
    return Promise.resolve(this.rims.get(rimId));
  }
}

/** Files named `<rimId>`, `<rimId>.xml`, `<rimId>.swidtag` (XML) or `<rimId>.json` (RIM service reply). */
export class DirectoryRimSource implements RimSource {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async getRim(rimId: string): Promise<string | undefined> {
    checkId(rimId);
    for (const suffix of ['', '.xml', '.swidtag', '.json']) {
      let text: string;
      try {
        text = await readFile(join(this.dir, rimId + suffix), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new NvidiaError('RimUnavailable', `cannot read RIM ${rimId} from ${this.dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      return suffix === '.json' ? decodeRimServiceBody(text, rimId) : text;
    }
    return undefined;
  }
}

export interface HttpRimSourceOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** RIMs are immutable per id, so positive answers are kept (bounded LRU). */
  cacheSize?: number;
}

/** NVIDIA RIM service client: GET <base><rimId>. 404 means "no such RIM"; anything else non-200 is an outage. */
export class HttpRimSource implements RimSource {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  private readonly cache: LruCache<string, string>;
  private readonly inflight = new Map<string, Promise<string | undefined>>();

  constructor(options: HttpRimSourceOptions = {}) {
    this.baseUrl = options.baseUrl ?? DEFAULT_RIM_SERVICE_URL;
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.cache = new LruCache(options.cacheSize ?? 256);
  }

  async getRim(rimId: string, context?: RimLookupContext): Promise<string | undefined> {
    checkId(rimId);
    const base = context?.serviceUrl ?? this.baseUrl;
    const url = base.endsWith('/') ? base + rimId : `${base}/${rimId}`;
    const cached = this.cache.get(url);
    if (cached !== undefined) return cached;
    const pending = this.inflight.get(url);
    if (pending) return pending;
    const request = this.fetchOnce(url, rimId).finally(() => this.inflight.delete(url));
    this.inflight.set(url, request);
    return request;
  }

  private async fetchOnce(url: string, rimId: string): Promise<string | undefined> {
    let res: BoundedResponse;
    try {
      res = await fetchBounded(url, {
        headers: { accept: 'application/json' },
        maxBytes: RIM_RESPONSE_CAP,
        timeoutMs: this.timeoutMs,
        readStatuses: [200],
        fetch: this.fetchImpl,
      });
    } catch (err) {
      const e = err as EgressError;
      if (e.code === 'BodyTooLarge') throw new NvidiaError('RimUnavailable', `RIM service reply for ${rimId} exceeds ${RIM_RESPONSE_CAP} bytes`);
      const why = e.code === 'Timeout' ? `timed out after ${this.timeoutMs} ms` : e.code === 'RedirectRefused' ? 'answered with a redirect (not followed)' : 'connection failed';
      throw new NvidiaError('RimUnavailable', `RIM service ${new URL(url).origin} unreachable for ${rimId}: ${why}`);
    }
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new NvidiaError('RimUnavailable', `RIM service answered HTTP ${res.status} for ${rimId}`);
    const xml = decodeRimServiceBody(new TextDecoder().decode(res.body), rimId);
    this.cache.set(url, xml);
    return xml;
  }
}

/**
 * Routes by policy: a `rimConfigMapRef` means offline (only that ConfigMap's RIMs, never the network);
 * otherwise the HTTP source with the policy's `rimServiceUrl`.
 */
export class PolicyRimSource implements RimSource {
  private readonly http: RimSource | undefined;
  private readonly configMaps: (name: string) => ReadonlyMap<string, string> | undefined;

  constructor(options: { http?: RimSource; configMaps: (name: string) => ReadonlyMap<string, string> | undefined }) {
    this.http = options.http;
    this.configMaps = options.configMaps;
  }

  async getRim(rimId: string, context?: RimLookupContext): Promise<string | undefined> {
    if (context?.configMapName !== undefined) {
      const map = this.configMaps(context.configMapName);
      if (!map) throw new NvidiaError('RimUnavailable', `RIM ConfigMap '${context.configMapName}' is not loaded`);
      return map.get(rimId);
    }
    if (!this.http) throw new NvidiaError('RimUnavailable', 'no RIM ConfigMap is configured and network RIM lookup is disabled');
    return this.http.getRim(rimId, context);
  }
}
