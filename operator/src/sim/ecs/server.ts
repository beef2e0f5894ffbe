// ECS API simulator: an HTTP server the real @alicloud/ecs20140526 SDK talks to with
// `{ endpoint: '127.0.0.1:PORT', protocol: 'http' }`. Requests are `POST /?<flattened params>` with the
// action in `x-acs-action`; answers are ECS-shaped JSON (`RequestId` always; errors as
// `{ RequestId, Code, Message }` with the HTTP status ECS uses). Every request is logged (action,
// time, outcome; never headers, so never credentials) for rate assertions.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EcsApiError } from './api-error.ts';
import { Faults, type MangleMode } from './faults.ts';
import * as img from './images.ts';
import * as ins from './instances.ts';
import * as net from './network.ts';
import { Params } from './params.ts';
import { DEFAULT_CATALOG, SimState, type Catalog, type SimInstance, type Timings } from './state.ts';

export interface SimulatorOptions {
  port?: number;
  host?: string;
  /** Simulator clock (state transitions are derived from it). */
  now?: () => number;
  timings?: Partial<Timings>;
  catalog?: Catalog;
  /** When set, only these AccessKey IDs are accepted; others get InvalidAccessKeyId.NotFound. */
  acceptedAccessKeyIds?: string[];
}

export interface RequestRecord {
  at: number;
  action: string;
  status: number;
  code?: string;
  requestId: string;
  dropped?: boolean;
  /** The response was garbled this way (the action took effect). */
  mangled?: MangleMode;
  params: Record<string, string>;
}

export interface EcsSimulator {
  /** `127.0.0.1:PORT`, ready for the SDK's `endpoint` (with `protocol: 'http'`). */
  endpoint: string;
  port: number;
  faults: Faults;
  state: SimState;
  /** Live instances (advanced to now); `includeDeleted` adds released ones. */
  instances(opts?: { includeDeleted?: boolean }): SimInstance[];
  requestLog: RequestRecord[];
  /** Largest number of requests (optionally of one action) seen in any window of `windowMs`. */
  peakRate(windowMs?: number, action?: string): number;
  close(): Promise<void>;
}

type Handler = (s: SimState, p: Params) => Record<string, unknown>;

const HANDLERS: Record<string, Handler> = {
  RunInstances: ins.runInstances,
  DescribeInstances: ins.describeInstances,
  DeleteInstance: ins.deleteInstance,
  DeleteInstances: ins.deleteInstances,
  StopInstance: ins.stopInstance,
  StartInstance: ins.startInstance,
  DescribeAvailableResource: ins.describeAvailableResource,
  CreateSecurityGroup: net.createSecurityGroup,
  AuthorizeSecurityGroup: net.authorizeSecurityGroup,
  DescribeSecurityGroups: net.describeSecurityGroups,
  DescribeSecurityGroupAttribute: net.describeSecurityGroupAttribute,
  ImportImage: img.importImage,
  DescribeImages: img.describeImages,
};

/** Every array, object and number below the top level replaced by a string (RequestId kept). */
function wrongTypes(v: unknown, depth = 0): unknown {
  if (depth > 0 && (typeof v === 'number' || Array.isArray(v))) return String(JSON.stringify(v)).slice(0, 16);
  if (v && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, depth > 0 && k !== 'RequestId' && typeof e === 'object' ? 'x' : wrongTypes(e, depth + 1)]));
  return v;
}

/** A body that parses but disagrees with itself or with the simulator's state. */
function contradictory(action: string, body: Record<string, unknown>): Record<string, unknown> {
  if (action === 'RunInstances') return { ...body, InstanceIdSets: { InstanceIdSet: [`i-phantom${randomUUID().slice(0, 8)}`] } };
  const list = (body['Instances'] as { Instance?: Array<Record<string, unknown>> } | undefined)?.Instance;
  if (list && list.length > 0) {
    const twin = { ...list[0]!, Status: list[0]!['Status'] === 'Running' ? 'Stopped' : 'Running' };
    return { ...body, Instances: { Instance: [...list, twin] }, TotalCount: 0 };
  }
  return { ...body, TotalCount: 3, Instances: { Instance: [] } };
}

function sendMangled(res: http.ServerResponse, record: RequestRecord, mode: MangleMode, body: Record<string, unknown>): void {
  const json = (status: number, text: string) => {
    record.status = status;
    res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'x-acs-request-id': String(body['RequestId']) }).end(text);
  };
  const text = JSON.stringify(body);
  if (mode === 'truncated') return json(200, text.slice(0, Math.max(1, Math.floor(text.length / 2))));
  if (mode === 'empty') return json(200, '');
  if (mode === 'wrong-types') return json(200, JSON.stringify(wrongTypes(body)));
  if (mode === 'contradictory') return json(200, JSON.stringify(contradictory(record.action, body)));
  if (mode === '5xx-after') return json(503, JSON.stringify({ RequestId: body['RequestId'], Code: 'ServiceUnavailable', Message: 'The request has failed due to a temporary failure of the server.' }));
  record.status = 200;
  res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><h1>502 Bad Gateway</h1></body></html>');
}

const DEFAULT_TIMINGS: Timings = { pendingMs: 300, startingMs: 300, stoppingMs: 300, imageImportMs: 500 };

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** AccessKey ID from an ACS3 `authorization` header, or the v2 `AccessKeyId` query parameter. */
function accessKeyId(req: http.IncomingMessage, params: Record<string, string>): string | undefined {
  const auth = req.headers.authorization;
  const m = typeof auth === 'string' ? /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=[^,]+,Signature=[0-9a-f]+$/.exec(auth) : null;
  return m?.[1] ?? params.AccessKeyId;
}

export async function startEcsSimulator(opts: SimulatorOptions = {}): Promise<EcsSimulator> {
  const now = opts.now ?? Date.now;
  const state = new SimState(now, { ...DEFAULT_TIMINGS, ...opts.timings }, opts.catalog ?? DEFAULT_CATALOG);
  const faults = new Faults(state);
  const requestLog: RequestRecord[] = [];

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const requestId = randomUUID().toUpperCase();
    const url = new URL(req.url ?? '/', 'http://simulator');
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    const body = await readBody(req);
    if (body && /x-www-form-urlencoded/.test(req.headers['content-type'] ?? '')) Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
    const action = (req.headers['x-acs-action'] as string | undefined) ?? params.Action ?? '';
    const record: RequestRecord = { at: now(), action, status: 200, requestId, params };
    requestLog.push(record);
    const send = (status: number, payload: Record<string, unknown>): void => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'x-acs-request-id': requestId });
      res.end(JSON.stringify({ RequestId: requestId, ...payload }));
    };
    const fail = (e: { status: number; code: string; message: string }): void => {
      record.code = e.code;
      send(e.status, { HostId: 'ecs.aliyuncs.com', Code: e.code, Message: e.message, Recommend: `https://api.aliyun.com/troubleshoot?q=${e.code}` });
    };
    if (req.method !== 'POST' && req.method !== 'GET') return fail({ status: 405, code: 'UnsupportedHTTPMethod', message: `HTTP method ${req.method ?? ''} is not supported.` });
    const handler = HANDLERS[action];
    if (!handler) return fail({ status: 404, code: 'InvalidAction.NotFound', message: `Specified api "${action}" is not found.` });
    const akid = accessKeyId(req, params);
    if (!akid) return fail({ status: 400, code: 'MissingAccessKeyId', message: 'AccessKeyId is mandatory for this action.' });
    if (opts.acceptedAccessKeyIds && !opts.acceptedAccessKeyIds.includes(akid)) {
      // Like several Alibaba services, echo the key id: clients must scrub it from what they log.
      return fail({ status: 404, code: 'InvalidAccessKeyId.NotFound', message: `Specified access key is not found: ${akid}` });
    }
    const fault = faults.before(action);
    if (fault) return fail(fault);
    let result: Record<string, unknown>;
    try {
      result = handler(state, new Params(params));
    } catch (err) {
      if (err instanceof EcsApiError) return fail(err);
      return fail({ status: 500, code: 'InternalError', message: 'The request processing has failed due to some unknown error.' });
    }
    if (faults.dropAfter(action)) {
      record.dropped = true;
      req.socket.destroy(); // the action took effect; the client sees a reset connection
      return;
    }
    const mangle = faults.mangleAfter(action);
    if (mangle) {
      record.mangled = mangle;
      return sendMangled(res, record, mangle, { RequestId: requestId, ...result });
    }
    send(200, result);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `127.0.0.1:${port}`,
    port,
    faults,
    state,
    requestLog,
    instances: (o = {}) => (o.includeDeleted ? (state.live(), [...state.instances.values()]) : state.live()),
    peakRate: (windowMs = 1000, action?: string) => {
      const times = requestLog.filter((r) => !action || r.action === action).map((r) => r.at);
      let best = 0;
      for (let i = 0, j = 0; j < times.length; j++) {
        while ((times[j] ?? 0) - (times[i] ?? 0) >= windowMs) i++;
        best = Math.max(best, j - i + 1);
      }
      return best;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
