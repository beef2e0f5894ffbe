// RekorClient: the network side of reference values (Rekor v1 REST API). It fetches and shape-checks;
// it never decides trust: everything it returns goes through the pure verifiers. Errors are
// RefValuesError('LogUnavailable') naming the route and status; retries only on network errors and 5xx.
import { RefValuesError } from './errors.ts';
import { parseLogEntries, type RekorLogEntry } from './log-entry.ts';

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

const MAX_RESPONSE = 16 * 1024 * 1024;
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

  private async request(method: 'GET' | 'POST', path: string, body?: unknown, okStatuses = [200]): Promise<{ status: number; json: unknown; location?: string }> {
    let lastError = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      let res: Response;
      try {
        res = await this.fetchImpl(`${this.url}${path}`, {
          method,
          headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(this.timeoutMs),
          redirect: 'error',
        });
      } catch (e) {
        lastError = (e as Error).message;
        continue;
      }
      if (res.status >= 500) {
        lastError = `HTTP ${res.status}`;
        continue;
      }
      const text = await res.text();
      if (text.length > MAX_RESPONSE) throw new RefValuesError('LogUnavailable', `rekor ${method} ${path}: response larger than 16 MiB`);
      if (!okStatuses.includes(res.status)) {
        throw new RefValuesError('LogUnavailable', `rekor ${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
      }
      let json: unknown = text;
      if ((res.headers.get('content-type') ?? '').includes('json')) {
        try {
          json = JSON.parse(text);
        } catch {
          throw new RefValuesError('LogUnavailable', `rekor ${method} ${path}: response is not JSON`);
        }
      }
      const location = res.headers.get('location') ?? undefined;
      return location ? { status: res.status, json, location } : { status: res.status, json };
    }
    throw new RefValuesError('LogUnavailable', `rekor ${method} ${path}: ${lastError} (after ${this.retries + 1} attempts)`);
  }

  /** GET /api/v1/log: the active tree head (signed checkpoint) and inactive shards. */
  async getLogInfo(): Promise<LogInfo> {
    const { json } = await this.request('GET', '/api/v1/log');
    const head = shard(json, 'GET /api/v1/log');
    const inactive = isObj(json) && Array.isArray(json['inactiveShards']) ? json['inactiveShards'].map((s, i) => shard(s, `inactiveShards[${i}]`)) : [];
    return { ...head, inactiveShards: inactive };
  }

  /** GET /api/v1/log/proof: RFC 6962 consistency proof between two sizes of one tree. */
  async getConsistencyProof(firstSize: number, lastSize: number, treeId?: string): Promise<{ rootHash: string; hashes: string[] }> {
    const q = new URLSearchParams({ firstSize: String(firstSize), lastSize: String(lastSize), ...(treeId ? { treeID: treeId } : {}) });
    const { json } = await this.request('GET', `/api/v1/log/proof?${q.toString()}`);
    if (!isObj(json) || typeof json['rootHash'] !== 'string' || !Array.isArray(json['hashes']) || !json['hashes'].every((h) => typeof h === 'string')) {
      throw new RefValuesError('LogUnavailable', 'rekor GET /api/v1/log/proof: missing rootHash or hashes');
    }
    return { rootHash: json['rootHash'], hashes: json['hashes'] as string[] };
  }

  async getEntryByIndex(logIndex: number): Promise<RekorLogEntry> {
    const { json } = await this.request('GET', `/api/v1/log/entries?logIndex=${logIndex}`);
    return this.single(json, `logIndex ${logIndex}`);
  }

  async getEntryByUuid(uuid: string): Promise<RekorLogEntry> {
    if (!/^([0-9a-f]{16})?[0-9a-f]{64}$/.test(uuid)) throw new RefValuesError('EntryMalformed', 'entry UUID must be 64 or 80 lower-case hex characters');
    const { json } = await this.request('GET', `/api/v1/log/entries/${uuid}`);
    return this.single(json, `UUID ${uuid}`);
  }

  /** POST /api/v1/log/entries/retrieve, ten at a time (the API's limit). */
  async retrieveEntries(uuids: readonly string[]): Promise<RekorLogEntry[]> {
    const out: RekorLogEntry[] = [];
    for (let i = 0; i < uuids.length; i += 10) {
      const { json } = await this.request('POST', '/api/v1/log/entries/retrieve', { entryUUIDs: uuids.slice(i, i + 10) });
      out.push(...parseLogEntries(json));
    }
    return out;
  }

  /** POST /api/v1/index/retrieve {hash: "sha256:<hex>"}: UUIDs of entries indexed under that digest. */
  async searchIndexByHash(sha256Hex: string): Promise<string[]> {
    const { json } = await this.request('POST', '/api/v1/index/retrieve', { hash: `sha256:${sha256Hex.toLowerCase()}` });
    if (!Array.isArray(json) || !json.every((u) => typeof u === 'string')) {
      throw new RefValuesError('LogUnavailable', 'rekor POST /api/v1/index/retrieve: expected an array of UUIDs');
    }
    return json as string[];
  }

  /** POST /api/v1/log/entries. An entry that already exists (409) is fetched from its Location. */
  async createEntry(proposed: unknown): Promise<RekorLogEntry> {
    const { status, json, location } = await this.request('POST', '/api/v1/log/entries', proposed, [201, 409]);
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
