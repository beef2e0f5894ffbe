// Minimal JSON-over-HTTP client on node:http (keep-alive agent, timeout), for the simulated guest's KBS
// client and the benchmark. Transport failures reject; any HTTP status resolves.
import { request, type Agent, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function httpCall(
  method: string,
  url: string,
  opts: { body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string>; agent?: Agent; timeoutMs?: number; maxResponseBytes?: number; ca?: string; localAddress?: string } = {},
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const payload = opts.rawBody !== undefined ? Buffer.from(opts.rawBody) : opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const options = { method, headers, ...(opts.agent ? { agent: opts.agent } : {}), timeout: opts.timeoutMs ?? 30_000, ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) };
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > (opts.maxResponseBytes ?? 8 * 1024 * 1024)) res.destroy(new Error('response too large'));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    };
    const req = url.startsWith('https:') ? httpsRequest(url, options, onResponse) : request(url, options, onResponse);
    req.on('timeout', () => req.destroy(new Error(`request timed out after ${opts.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
