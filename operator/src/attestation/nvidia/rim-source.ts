// Where RIM XML comes from. Verification never trusts the source: every RIM is signature-checked to the
// pinned root, so sources only need to find bytes. Implementations: NVIDIA RIM service over HTTP (with
// cache), a directory (air-gapped volume, `cai verify gpu --rim-dir`), and an in-memory map that the
// operator fills from a ConfigMap (keys = RIM ids, values = RIM XML).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NvidiaError } from './errors.ts';
import { LruCache } from './lru.ts';
import { isSafeRimId } from './rim-id.ts';

export const DEFAULT_RIM_SERVICE_URL = 'https://rim.attestation.nvidia.com/v1/rim/';

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
    let res: Response;
    try {
      res = await this.fetchImpl(url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' } });
    } catch (err) {
      const why = err instanceof Error && err.name === 'TimeoutError' ? `timed out after ${this.timeoutMs} ms` : 'connection failed';
      throw new NvidiaError('RimUnavailable', `RIM service ${new URL(url).origin} unreachable for ${rimId}: ${why}`);
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new NvidiaError('RimUnavailable', `RIM service answered HTTP ${res.status} for ${rimId}`);
    }
    const xml = decodeRimServiceBody(await res.text(), rimId);
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
