// The operator's HTTP endpoints: /metrics (Prometheus text), /healthz (liveness), /readyz (readiness,
// e.g. informers synced). Output follows controller-runtime's healthz: "ok", or 500 with "[-]name failed".

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface NamedCheck {
  name: string;
  /** undefined = healthy; a string = why not (short, no secrets). */
  check: () => string | undefined;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  registry: Registry;
  healthz: NamedCheck[];
  readyz: NamedCheck[];
}

export interface RunningHttpServer {
  address: { host: string; port: number };
  close(): Promise<void>;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': opts.registry.contentType }).end(text),
        () => res.writeHead(500).end('collecting metrics failed\n'),
      );
      return;
    }
    const checks = url.pathname === '/healthz' || url.pathname === '/livez' ? opts.healthz : url.pathname === '/readyz' ? opts.readyz : undefined;
    if (!checks) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    const results = checks.map((c) => ({ name: c.name, failure: safeCheck(c) }));
    const failed = results.filter((r) => r.failure !== undefined);
    const verbose = url.searchParams.has('verbose') || failed.length > 0;
    const body = verbose
      ? results.map((r) => (r.failure === undefined ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.failure}`)).join('\n') + `\n${url.pathname.slice(1)} check ${failed.length ? 'failed' : 'passed'}\n`
      : 'ok';
    res.writeHead(failed.length ? 500 : 200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }).end(body);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    address: { host: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function safeCheck(c: NamedCheck): string | undefined {
  try {
    return c.check();
  } catch (err) {
    return err instanceof Error ? err.message : 'check threw';
  }
}
