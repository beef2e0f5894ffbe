// The local cloud: an HTTP control plane on loopback that creates simulated TEE instances on this
// machine. It runs apart from the operator (its own process via `cai local-cloud`, or embedded), so
// instances outlive an operator crash exactly as cloud instances do, and the provider has to recover
// them by token like it would on a real cloud.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { MAX_LOCAL_INIT_DATA, type CreateLocalInstanceBody, type LocalCloudError, type LocalInstanceRecord } from '../../cloud/local/types.ts';

/** Starts whatever a booted guest serves; returns guest-port -> host-port mappings and the TEE type its evidence has. */
export type GuestLauncher = (
  record: LocalInstanceRecord,
  request: CreateLocalInstanceBody,
) => Promise<{ ports: Record<number, number>; tee?: string; close(): Promise<void> }>;

export interface LocalCloudOptions {
  host?: string;
  port?: number;
  launchGuest: GuestLauncher;
  logger?: Logger;
  /** Delay of the Pending -> Starting step (ms); the boot delay per instance comes from its spec. */
  pendingMs?: number;
}

export interface LocalCloud {
  url: string;
  instances(): LocalInstanceRecord[];
  /** Every instance ever created, deleted ones included (the simulator's own record, for leak/duplicate checks). */
  history(): LocalInstanceRecord[];
  /**
   * Kills a running instance's guest and boots it again under the same id (a new guest process: its
   * memory and TEE keys are gone); `startedAt` changes when it is Running again. False when not Running.
   */
  reboot(id: string, downMs?: number): boolean;
  /** Fault injection: the next `n` create / delete requests take effect but their answer is lost (connection reset). */
  loseAnswers(op: 'create' | 'delete', n: number): void;
  /** Answers lost so far, by operation. */
  lostAnswers(): { create: number; delete: number };
  close(): Promise<void>;
}

interface Entry {
  record: LocalInstanceRecord;
  request: CreateLocalInstanceBody;
  timers: NodeJS.Timeout[];
  guest?: { close(): Promise<void> };
}

const MAX_BODY = 128 * 1024; // the create body carries up to 64 KiB of init-data

export async function startLocalCloud(opts: LocalCloudOptions): Promise<LocalCloud> {
  const host = opts.host ?? '127.0.0.1';
  const entries = new Map<string, Entry>();
  const byToken = new Map<string, string>();
  const history: LocalInstanceRecord[] = [];
  const pendingMs = opts.pendingMs ?? 20;

  function boot(entry: Entry): void {
    const { record } = entry;
    entry.timers.push(
      setTimeout(() => {
        if (record.state !== 'Pending') return;
        record.state = 'Starting';
        entry.timers.push(
          setTimeout(() => {
            if (record.state !== 'Starting') return;
            opts.launchGuest(record, entry.request).then(
              (guest) => {
                if (record.state !== 'Starting') {
                  void guest.close();
                  return;
                }
                entry.guest = guest;
                record.ports = guest.ports;
                if (guest.tee) record.tee = guest.tee;
                record.startedAt = new Date().toISOString();
                record.state = 'Running';
                opts.logger?.debug({ instance: record.id }, 'local instance running');
              },
              (err: unknown) => {
                record.state = 'Stopped';
                opts.logger?.error({ instance: record.id, err: String(err) }, 'local guest failed to boot');
              },
            );
          }, record.bootDelaySeconds * 1000),
        );
      }, pendingMs),
    );
  }

  function reboot(id: string, downMs: number): boolean {
    const entry = entries.get(id);
    if (!entry || entry.record.state !== 'Running') return false;
    const guest = entry.guest;
    delete entry.guest;
    entry.record.state = 'Starting';
    entry.record.ports = {};
    void guest?.close().finally(() => {
      entry.timers.push(
        setTimeout(() => {
          if (entry.record.state !== 'Starting') return;
          entry.record.state = 'Pending';
          boot(entry);
        }, downMs),
      );
    });
    return true;
  }

  async function terminate(entry: Entry): Promise<void> {
    entry.record.state = 'Stopping';
    entry.timers.forEach(clearTimeout);
    await entry.guest?.close();
    entry.record.state = 'Deleted';
    entries.delete(entry.record.id);
    if (byToken.get(entry.record.token) === entry.record.id) byToken.delete(entry.record.token);
  }

  function create(body: CreateLocalInstanceBody): { status: number; record: LocalInstanceRecord } {
    const existing = byToken.get(body.token);
    if (existing) {
      const entry = entries.get(existing);
      if (entry) return { status: 200, record: entry.record };
    }
    const record: LocalInstanceRecord = {
      id: `local-${randomBytes(8).toString('hex')}`,
      token: body.token,
      owner: body.owner,
      labels: body.labels,
      state: 'Pending',
      address: host,
      ports: {},
      createdAt: new Date().toISOString(),
      bootDelaySeconds: body.bootDelaySeconds,
    };
    const entry: Entry = { record, request: body, timers: [] };
    history.push(record);
    entries.set(record.id, entry);
    byToken.set(body.token, record.id);
    boot(entry);
    return { status: 201, record };
  }

  const toLose = { create: 0, delete: 0 };
  const lost = { create: 0, delete: 0 };
  /** The request took effect; its answer is lost on the way back (the client sees a reset connection). */
  const loseAnswer = (op: 'create' | 'delete', res: ServerResponse): boolean => {
    if (toLose[op] <= 0) return false;
    toLose[op]--;
    lost[op]++;
    res.socket?.destroy();
    return true;
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { code: 'Internal', message: String(err) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const parts = url.pathname.split('/').filter(Boolean);
    if (url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
    if (parts[0] !== 'v1' || parts[1] !== 'instances') return send(res, 404, err('NotFound', 'no such route'));
    const id = parts[2];
    if (req.method === 'POST' && !id) {
      const body = await readJson(req);
      const problem = validateCreate(body);
      if (problem) return send(res, 400, err('InvalidParameter', problem));
      const { status, record } = create(body as CreateLocalInstanceBody);
      if (loseAnswer('create', res)) return;
      return send(res, status, record);
    }
    if (req.method === 'GET' && !id) {
      const cluster = url.searchParams.get('cluster');
      const token = url.searchParams.get('token');
      const list = [...entries.values()]
        .map((e) => e.record)
        .filter((r) => (!cluster || r.owner.clusterId === cluster) && (!token || r.token === token));
      return send(res, 200, { instances: list });
    }
    const entry = id ? entries.get(id) : undefined;
    if (!entry) return send(res, 404, err('InstanceNotFound', `instance ${id ?? ''} does not exist`));
    if (req.method === 'GET') return send(res, 200, entry.record);
    if (req.method === 'DELETE') {
      void terminate(entry);
      if (loseAnswer('delete', res)) return;
      return send(res, 202, entry.record);
    }
    return send(res, 405, err('MethodNotAllowed', `${req.method ?? ''} not allowed`));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    instances: () => [...entries.values()].map((e) => e.record),
    history: () => [...history],
    reboot: (id, downMs = 500) => reboot(id, downMs),
    loseAnswers: (op, n) => {
      toLose[op] += n;
    },
    lostAnswers: () => ({ ...lost }),
    close: async () => {
      await Promise.all([...entries.values()].map(terminate));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function err(code: string, message: string): LocalCloudError {
  return { code, message };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function validateCreate(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return 'body must be a JSON object';
  const b = body as Partial<CreateLocalInstanceBody>;
  if (typeof b.token !== 'string' || b.token.length < 8 || b.token.length > 128) return 'token must be a string of 8-128 characters';
  const o = b.owner;
  if (!o || typeof o.clusterId !== 'string' || typeof o.namespace !== 'string' || typeof o.name !== 'string' || typeof o.uid !== 'string')
    return 'owner must have string clusterId, namespace, name and uid';
  if (typeof b.bootDelaySeconds !== 'number' || b.bootDelaySeconds < 0 || b.bootDelaySeconds > 600) return 'bootDelaySeconds must be 0-600';
  if (!b.workload || typeof b.workload.model !== 'string' || typeof b.workload.port !== 'number') return 'workload must have model and port';
  if (typeof b.guestApiPort !== 'number' || b.guestApiPort < 1 || b.guestApiPort > 65535) return 'guestApiPort must be 1-65535';
  if (!Array.isArray(b.manifest) || !b.manifest.every((p) => typeof p === 'string')) return 'manifest must be a list of resource paths';
  if (typeof b.labels !== 'object' || b.labels === null) return 'labels must be an object';
  if (b.initData !== undefined && (typeof b.initData !== 'string' || Buffer.byteLength(b.initData) > MAX_LOCAL_INIT_DATA)) return `initData must be a string of at most ${MAX_LOCAL_INIT_DATA} bytes`;
  return undefined;
}
