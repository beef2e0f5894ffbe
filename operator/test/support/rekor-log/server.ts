// HTTP front of the test log: the Rekor v1 REST routes the client uses, with Rekor's status codes.
// Started on 127.0.0.1 with a random port; the checkpoint signer name is that host:port so Sigstore
// trusted roots built from it satisfy @sigstore/verify's "baseUrl contains the signer name" rule.
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
      const q = (body ?? {}) as { entryUUIDs?: string[]; logIndexes?: number[] };
      const hits = [...(q.entryUUIDs ?? []).map((x) => this.find(x)), ...(q.logIndexes ?? []).map((x) => this.byIndex(x))];
      if (hits.length === 0 || hits.length > 10) return send(res, 422, { code: 422, message: 'between 1 and 10 entryUUIDs or logIndexes' });
      return send(res, 200, hits.flatMap((h) => (h ? [h.shard.logEntry(h.i)] : [])));
    }
    if (route === 'POST /api/v1/index/retrieve') {
      const hash = (body as { hash?: string } | undefined)?.hash?.toLowerCase();
      if (!hash) return send(res, 422, { code: 422, message: 'hash required' });
      return send(res, 200, this.shards().flatMap((s) => s.entries.filter((e) => e.indexKeys.includes(hash)).map((e) => e.uuid)));
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
