// HTTP front of the test log: the Rekor v1 REST routes the client uses, with Rekor's status codes.
// Started on 127.0.0.1 with a random port; the checkpoint signer name is that host:port so Sigstore
// trusted roots built from it satisfy @sigstore/verify's "baseUrl contains the signer name" rule.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProposalError, RekorLogState } from './log-state.ts';

export class TestRekorServer {
  readonly log: RekorLogState;
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
      return send(res, 200, { rootHash: log.tree.root(size).toString('hex'), treeSize: size, signedTreeHead: log.checkpoint(size), treeID: log.treeId, inactiveShards: [] });
    }
    if (route === 'GET /api/v1/log/publicKey') {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      return void res.end(log.publicKey.export({ type: 'spki', format: 'pem' }));
    }
    if (route === 'GET /api/v1/log/proof') {
      const first = Number(u.searchParams.get('firstSize') ?? '1');
      const last = Number(u.searchParams.get('lastSize'));
      if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last > log.tree.size || first > last) {
        return send(res, 400, { code: 400, message: 'firstSize/lastSize out of range' });
      }
      return send(res, 200, { rootHash: log.tree.root(last).toString('hex'), hashes: log.tree.consistencyProof(first, last).map((h) => h.toString('hex')) });
    }
    if (route === 'GET /api/v1/log/entries') {
      const i = Number(u.searchParams.get('logIndex')) - log.shardOffset;
      if (!Number.isInteger(i) || !log.entries[i]) return send(res, 404, { code: 404, message: 'entry not found' });
      return send(res, 200, log.logEntry(i));
    }
    const byUuid = /^GET \/api\/v1\/log\/entries\/([0-9a-f]{64}|[0-9a-f]{80})$/.exec(route);
    if (byUuid) {
      const i = log.findByUuid(byUuid[1] as string);
      return i < 0 ? send(res, 404, { code: 404, message: 'entry not found' }) : send(res, 200, log.logEntry(i));
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
      const idx = [...(q.entryUUIDs ?? []).map((x) => log.findByUuid(x)), ...(q.logIndexes ?? []).map((x) => x - log.shardOffset)];
      if (idx.length === 0 || idx.length > 10) return send(res, 422, { code: 422, message: 'between 1 and 10 entryUUIDs or logIndexes' });
      return send(res, 200, idx.filter((i) => log.entries[i]).map((i) => log.logEntry(i)));
    }
    if (route === 'POST /api/v1/index/retrieve') {
      const hash = (body as { hash?: string } | undefined)?.hash?.toLowerCase();
      if (!hash) return send(res, 422, { code: 422, message: 'hash required' });
      return send(res, 200, log.entries.filter((e) => e.indexKeys.includes(hash)).map((e) => e.uuid));
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
