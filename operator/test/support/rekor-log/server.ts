// HTTP front of the test log: the Rekor v1 REST routes the client (and cosign v3) use, with Rekor's status codes
// and Rekor's request validation (what Rekor refuses with 422/400, this log refuses too).
// Started on 127.0.0.1 with a random port; the checkpoint signer name is that host:port so Sigstore
// trusted roots built from it satisfy @sigstore/verify's "baseUrl contains the signer name" rule.
import { createHash, createPublicKey } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProposalError, RekorLogState } from './log-state.ts';

export class TestRekorServer {
  log: RekorLogState;
  /** Frozen shards, oldest first (Rekor v1 "inactiveShards"). */
  readonly inactive: RekorLogState[] = [];
  private server: Server | undefined;
  url = '';
  /** Requests seen, "METHOD path", for assertions on what the client asked. */
  readonly requests: string[] = [];

  constructor(log = new RekorLogState()) {
    this.log = log;
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => send(res, 500, { code: 500, message: String(e) }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.log.name = `127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Freezes the active tree and starts a new one with the same key, as a Rekor v1 shard rotation does. */
  rotate(): void {
    const old = this.log;
    const next = new RekorLogState({ privateKey: old.privateKey, publicKey: old.publicKey }, { treeId: String(BigInt(old.treeId) + 1n), shardOffset: old.shardOffset + old.entries.length });
    next.name = old.name;
    next.now = old.now;
    this.inactive.push(old);
    this.log = next;
  }

  private shards(): RekorLogState[] {
    return [...this.inactive, this.log];
  }

  private find(uuid: string): { shard: RekorLogState; i: number } | undefined {
    for (const shard of this.shards()) {
      const i = shard.findByUuid(uuid);
      if (i >= 0) return { shard, i };
    }
    return undefined;
  }

  private byIndex(globalIndex: number): { shard: RekorLogState; i: number } | undefined {
    const shard = this.shards().find((s) => globalIndex >= s.shardOffset && globalIndex < s.shardOffset + s.entries.length);
    return shard ? { shard, i: globalIndex - shard.shardOffset } : undefined;
  }

  trustedRootJson(): string {
    return this.log.trustedRootJson(this.url);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const route = `${req.method} ${u.pathname}`;
    this.requests.push(`${route}${u.search}`);
    const log = this.log;
    if (route === 'GET /api/v1/log') {
      const size = log.tree.size;
      const head = (s: RekorLogState) => ({ rootHash: s.tree.root().toString('hex'), treeSize: s.tree.size, signedTreeHead: s.checkpoint(), treeID: s.treeId });
      return send(res, 200, { ...head(log), treeSize: size, inactiveShards: this.inactive.map(head) });
    }
    if (route === 'GET /api/v1/log/publicKey') {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      return void res.end(log.publicKey.export({ type: 'spki', format: 'pem' }));
    }
    if (route === 'GET /api/v1/log/proof') {
      const treeId = u.searchParams.get('treeID');
      const tree = (treeId ? this.shards().find((s) => s.treeId === treeId) : log)?.tree;
      if (!tree) return send(res, 400, { code: 400, message: 'unknown treeID' });
      const first = Number(u.searchParams.get('firstSize') ?? '1');
      const last = Number(u.searchParams.get('lastSize'));
      if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last > tree.size || first > last) {
        return send(res, 400, { code: 400, message: 'firstSize/lastSize out of range' });
      }
      return send(res, 200, { rootHash: tree.root(last).toString('hex'), hashes: tree.consistencyProof(first, last).map((h) => h.toString('hex')) });
    }
    if (route === 'GET /api/v1/log/entries') {
      const hit = this.byIndex(Number(u.searchParams.get('logIndex')));
      return hit ? send(res, 200, hit.shard.logEntry(hit.i)) : send(res, 404, { code: 404, message: 'entry not found' });
    }
    const byUuid = /^GET \/api\/v1\/log\/entries\/([0-9a-f]{64}|[0-9a-f]{80})$/.exec(route);
    if (byUuid) {
      const hit = this.find(byUuid[1] as string);
      return hit ? send(res, 200, hit.shard.logEntry(hit.i)) : send(res, 404, { code: 404, message: 'entry not found' });
    }
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    if (route === 'POST /api/v1/log/entries') {
      try {
        log.propose(body);
      } catch (e) {
        if (e instanceof ProposalError) {
          const uuid = (e as ProposalError & { uuid?: string }).uuid;
          if (uuid) res.setHeader('location', `/api/v1/log/entries/${uuid}`);
          return send(res, e.status, { code: e.status, message: e.message });
        }
        throw e;
      }
      const i = log.entries.length - 1;
      res.setHeader('location', `/api/v1/log/entries/${log.entries[i]?.uuid}`);
      res.setHeader('etag', log.entries[i]?.uuid ?? '');
      return send(res, 201, log.logEntry(i, false));
    }
    if (route === 'POST /api/v1/log/entries/retrieve') {
      const q = (body ?? {}) as { entryUUIDs?: unknown[]; logIndexes?: unknown[] };
      for (const [name, list, ok] of [
        ['entryUUIDs', q.entryUUIDs, (x: unknown) => typeof x === 'string' && /^([0-9a-fA-F]{64}|[0-9a-fA-F]{80})$/.test(x)],
        ['logIndexes', q.logIndexes, (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0],
      ] as const) {
        if (list !== undefined && (!Array.isArray(list) || list.length < 1 || list.length > 10 || !list.every(ok))) {
          return send(res, 422, { code: 422, message: `${name} in body should have 1 to 10 valid items` });
        }
      }
      const hits = [...((q.entryUUIDs ?? []) as string[]).map((x) => this.find(x.toLowerCase())), ...((q.logIndexes ?? []) as number[]).map((x) => this.byIndex(x))];
      if (hits.length === 0 || hits.length > 10) return send(res, 422, { code: 422, message: 'between 1 and 10 entryUUIDs or logIndexes' });
      return send(res, 200, hits.flatMap((h) => (h ? [h.shard.logEntry(h.i)] : [])));
    }
    if (route === 'POST /api/v1/index/retrieve') {
      const q = searchQuery(body);
      if (typeof q === 'string') return send(res, 422, { code: 422, message: q });
      if (q.error) return send(res, q.error.status, { code: q.error.status, message: q.error.message });
      const all = this.shards().flatMap((s) => s.entries);
      const hits = q.keys.map((k) => new Set(all.filter((e) => e.indexKeys.includes(k)).map((e) => e.uuid)));
      const uuids = q.and ? [...(hits[0] ?? [])].filter((u) => hits.every((h) => h.has(u))) : [...new Set(hits.flatMap((h) => [...h]))];
      return send(res, 200, uuids);
    }
    send(res, 404, { code: 404, message: `no route ${route}` });
  }
}

function send(res: ServerResponse, status: number, json: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(json));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

const HASH = /^(sha512:)?[0-9a-fA-F]{128}$|^(sha256:)?[0-9a-fA-F]{64}$|^(sha1:)?[0-9a-fA-F]{40}$/;

/**
 * POST /api/v1/index/retrieve as Rekor v1 validates it (openapi SearchIndex): `hash` must match the
 * sha512/sha256/sha1 pattern (so `sha384:` is a 422), a bare hex hash is taken as its length's algorithm,
 * `publicKey` is {format, content: base64}, `operator` is and|or (default or). The lookup key of a
 * public key is the bare hex SHA-256 of its canonical PEM, exactly as Rekor computes it.
 */
function searchQuery(body: unknown): string | { keys: string[]; and: boolean; error?: { status: number; message: string } } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'query must be a JSON object';
  const q = body as Record<string, unknown>;
  const keys: string[] = [];
  if (q['operator'] !== undefined && q['operator'] !== 'and' && q['operator'] !== 'or') return "operator in body should be one of [and or]";
  if (q['hash'] !== undefined) {
    if (typeof q['hash'] !== 'string' || !HASH.test(q['hash'])) return `hash in body should match '${HASH.source}'`;
    const h = q['hash'].toLowerCase();
    keys.push(h.includes(':') ? h : `${h.length === 128 ? 'sha512' : h.length === 64 ? 'sha256' : 'sha1'}:${h}`);
  }
  if (q['publicKey'] !== undefined) {
    const pk = q['publicKey'];
    if (typeof pk !== 'object' || pk === null || typeof (pk as Record<string, unknown>)['format'] !== 'string') return 'publicKey.format in body is required';
    const { format, content } = pk as { format: string; content?: unknown };
    if (!['pgp', 'x509', 'minisign', 'ssh', 'tuf'].includes(format)) return 'publicKey.format in body should be one of [pgp x509 minisign ssh tuf]';
    if (format !== 'x509') return { keys, and: false, error: { status: 400, message: `this test log only indexes x509 keys, not ${format}` } };
    if (typeof content !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(content)) return 'publicKey.content in body must be of type byte';
    let canonical: string;
    try {
      canonical = createPublicKey(Buffer.from(content, 'base64').toString('utf8')).export({ type: 'spki', format: 'pem' }).toString();
    } catch {
      return { keys, and: false, error: { status: 400, message: 'invalid public key: failed parsing' } };
    }
    keys.push(createHash('sha256').update(canonical).digest('hex'));
  }
  if (q['email'] !== undefined) {
    if (typeof q['email'] !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(q['email'])) return 'email in body must be of type email';
    keys.push(q['email'].toLowerCase());
  }
  return { keys, and: q['operator'] === 'and' };
}
