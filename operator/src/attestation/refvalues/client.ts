// RekorClient: the network side of reference values (Rekor v1 REST API). It fetches (bounded: per-route
// size caps, one timeout per exchange, no redirects) and shape-checks;
// it never decides trust: everything it returns goes through the pure verifiers. Errors are
// RefValuesError('LogUnavailable') naming the route and status; retries only on network errors and 5xx.
import { RefValuesError } from './errors.ts';
import { parseLogEntries, type RekorLogEntry } from './log-entry.ts';
import { fetchBounded, type BoundedResponse, type EgressError } from '../../net/egress.ts';

export const PUBLIC_GOOD_REKOR_URL = 'https://rekor.sigstore.dev';

export interface LogInfo {
  rootHash: string;
  treeSize: number;
  signedTreeHead: string;
  treeID: string;
  inactiveShards: { rootHash: string; treeSize: number; signedTreeHead: string; treeID: string }[];
}

export interface RekorClientOptions {
  url?: string;
  timeoutMs?: number;
  retries?: number;
  fetch?: typeof fetch;
}

/**
 * Response caps per route (documented in docs/reference-values.md). Rekor v1 bounds an attestation at
 * 100 KiB and a body at a few KiB, so 10 entries fit well under 4 MiB; an index answer is capped so that
 * far more UUIDs than resolve.ts accepts (1,000 per version) still fit.
 */
export const REKOR_RESPONSE_CAPS = {
  logInfo: 256 * 1024,
  proof: 64 * 1024,
  entry: 1024 * 1024,
  entries: 4 * 1024 * 1024,
  index: 1024 * 1024,
} as const;
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function shard(x: unknown, where: string): LogInfo['inactiveShards'][number] {
  if (!isObj(x) || typeof x['rootHash'] !== 'string' || typeof x['signedTreeHead'] !== 'string' || !Number.isSafeInteger(x['treeSize'])) {
    throw new RefValuesError('LogUnavailable', `rekor ${where}: missing rootHash/treeSize/signedTreeHead`);
  }
  return { rootHash: x['rootHash'], treeSize: x['treeSize'] as number, signedTreeHead: x['signedTreeHead'], treeID: String(x['treeID'] ?? '') };
}

export class RekorClient {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: RekorClientOptions = {}) {
    this.url = (opts.url ?? PUBLIC_GOOD_REKOR_URL).replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.retries = opts.retries ?? 2;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  private async request(method: 'GET' | 'POST', path: string, maxBytes: number, body?: unknown, okStatuses = [200]): Promise<{ status: number; json: unknown; location?: string }> {
    const route = `rekor ${method} ${path.split('?')[0] ?? path}`;
    let lastError = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      let res: BoundedResponse;
      try {
        res = await fetchBounded(`${this.url}${path}`, {
          method,
          headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          maxBytes,
          timeoutMs: this.timeoutMs,
          readStatuses: okStatuses,
          fetch: this.fetchImpl,
        });
      } catch (e) {
        const err = e as EgressError;
        if (err.code === 'BodyTooLarge') throw new RefValuesError('ResponseTooLarge', `${route}: response body exceeds ${maxBytes} bytes`);
        if (err.code === 'RedirectRefused') throw new RefValuesError('LogUnavailable', `${route}: the log answered with a redirect; redirects are not followed`);
        lastError = err.code === 'Timeout' ? `no answer within ${this.timeoutMs} ms` : 'connection failed';
        continue;
      }
      if (res.status >= 500) {
        lastError = `HTTP ${res.status}`;
        continue;
      }
      // Status code and a fixed reason only: the body of an error answer is never read, let alone echoed.
      if (!okStatuses.includes(res.status)) throw new RefValuesError('LogUnavailable', `${route}: HTTP ${res.status} (unexpected status)`);
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(res.body));
      } catch {
        throw new RefValuesError('LogUnavailable', `${route}: response is not JSON`);
      }
      const location = res.headers.get('location') ?? undefined;
      return location ? { status: res.status, json, location } : { status: res.status, json };
    }
    throw new RefValuesError('LogUnavailable', `${route}: ${lastError} (after ${this.retries + 1} attempts)`);
  }

  /** GET /api/v1/log: the active tree head (signed checkpoint) and inactive shards. */
  async getLogInfo(): Promise<LogInfo> {
    const { json } = await this.request('GET', '/api/v1/log', REKOR_RESPONSE_CAPS.logInfo);
    const head = shard(json, 'GET /api/v1/log');
    const inactive = isObj(json) && Array.isArray(json['inactiveShards']) ? json['inactiveShards'].map((s, i) => shard(s, `inactiveShards[${i}]`)) : [];
    return { ...head, inactiveShards: inactive };
  }

  /** GET /api/v1/log/proof: RFC 6962 consistency proof between two sizes of one tree. */
  async getConsistencyProof(firstSize: number, lastSize: number, treeId?: string): Promise<{ rootHash: string; hashes: string[] }> {
    const q = new URLSearchParams({ firstSize: String(firstSize), lastSize: String(lastSize), ...(treeId ? { treeID: treeId } : {}) });
    const { json } = await this.request('GET', `/api/v1/log/proof?${q.toString()}`, REKOR_RESPONSE_CAPS.proof);
    if (!isObj(json) || typeof json['rootHash'] !== 'string' || !Array.isArray(json['hashes']) || !json['hashes'].every((h) => typeof h === 'string')) {
      throw new RefValuesError('LogUnavailable', 'rekor GET /api/v1/log/proof: missing rootHash or hashes');
    }
    return { rootHash: json['rootHash'], hashes: json['hashes'] as string[] };
  }

  async getEntryByIndex(logIndex: number): Promise<RekorLogEntry> {
    const { json } = await this.request('GET', `/api/v1/log/entries?logIndex=${logIndex}`, REKOR_RESPONSE_CAPS.entry);
    return this.single(json, `logIndex ${logIndex}`);
  }

  async getEntryByUuid(uuid: string): Promise<RekorLogEntry> {
    if (!/^([0-9a-f]{16})?[0-9a-f]{64}$/.test(uuid)) throw new RefValuesError('EntryMalformed', 'entry UUID must be 64 or 80 lower-case hex characters');
    const { json } = await this.request('GET', `/api/v1/log/entries/${uuid}`, REKOR_RESPONSE_CAPS.entry);
    return this.single(json, `UUID ${uuid}`);
  }

  /** POST /api/v1/log/entries/retrieve, ten at a time (the API's limit). */
  async retrieveEntries(uuids: readonly string[]): Promise<RekorLogEntry[]> {
    const out: RekorLogEntry[] = [];
    for (let i = 0; i < uuids.length; i += 10) {
      const { json } = await this.request('POST', '/api/v1/log/entries/retrieve', REKOR_RESPONSE_CAPS.entries, { entryUUIDs: uuids.slice(i, i + 10) });
      out.push(...parseLogEntries(json));
    }
    return out;
  }

  /** POST /api/v1/index/retrieve {hash: "sha256:<hex>"}: UUIDs of entries indexed under that digest. */
  async searchIndexByHash(sha256Hex: string): Promise<string[]> {
    const { json } = await this.request('POST', '/api/v1/index/retrieve', REKOR_RESPONSE_CAPS.index, { hash: `sha256:${sha256Hex.toLowerCase()}` });
    if (!Array.isArray(json) || !json.every((u) => typeof u === 'string')) {
      throw new RefValuesError('LogUnavailable', 'rekor POST /api/v1/index/retrieve: expected an array of UUIDs');
    }
    return json as string[];
  }

  /**
   * POST /api/v1/index/retrieve {publicKey: {format: x509, content}}: UUIDs indexed under the key. Rekor v1
   * looks up the bare-hex SHA-256 of the canonical PEM, which only hashedrekord entries index (intoto and
   * dsse index "sha256:<hex>"), so this finds a builder's sign-blob entries, not its attestations.
   */
  async searchIndexByPublicKey(publicKeyPem: string): Promise<string[]> {
    const content = Buffer.from(publicKeyPem, 'utf8').toString('base64');
    const { json } = await this.request('POST', '/api/v1/index/retrieve', REKOR_RESPONSE_CAPS.index, { publicKey: { format: 'x509', content } });
    if (!Array.isArray(json) || !json.every((u) => typeof u === 'string')) {
      throw new RefValuesError('LogUnavailable', 'rekor POST /api/v1/index/retrieve: expected an array of UUIDs');
    }
    return json as string[];
  }

  /** POST /api/v1/log/entries. An entry that already exists (409) is fetched from its Location. */
  async createEntry(proposed: unknown): Promise<RekorLogEntry> {
    const { status, json, location } = await this.request('POST', '/api/v1/log/entries', REKOR_RESPONSE_CAPS.entry, proposed, [201, 409]);
    if (status === 409) {
      const uuid = location?.split('/').pop();
      if (!uuid) throw new RefValuesError('LogUnavailable', 'rekor: entry exists (409) but no Location header');
      return this.getEntryByUuid(uuid);
    }
    return this.single(json, 'created entry');
  }

  private single(json: unknown, what: string): RekorLogEntry {
    const entries = parseLogEntries(json);
    if (entries.length !== 1) throw new RefValuesError('LogUnavailable', `rekor ${what}: expected one entry, got ${entries.length}`);
    return entries[0] as RekorLogEntry;
  }
}
