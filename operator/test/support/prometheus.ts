// A real Prometheus server for integration tests (built from the Go module proxy by hack/prometheus/build.sh):
// loopback only, short scrape and evaluation intervals, its own temporary TSDB, stopped by the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const PROMETHEUS = join(process.env['CAI_CACHE'] ?? join(process.env['HOME'] ?? '/root', '.cache', 'cai-operator'), 'prometheus', 'prometheus');

export interface PrometheusServer {
  url: string;
  /** GET /api/v1/<path> with query parameters; the `data` member of a success answer. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Starts Prometheus scraping `targets` (host:port) every second and evaluating `rules` every second. */
export async function startPrometheus(opts: { targets: string[]; rules?: object; intervalSeconds?: number }): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cai-prom-'));
  const interval = `${opts.intervalSeconds ?? 1}s`;
  if (opts.rules) writeFileSync(join(dir, 'rules.yaml'), stringify(opts.rules, { lineWidth: 0 }));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: interval, evaluation_interval: interval },
      ...(opts.rules ? { rule_files: [join(dir, 'rules.yaml')] } : {}),
      scrape_configs: [{ job_name: 'confidential-agent-operator', static_configs: [{ targets: opts.targets }] }],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let stderr = '';
  const child: ChildProcess = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const res = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready within 20 s or the start fails (with Prometheus's own last words).
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}: ${stderr}`);
    }
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after 20 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, api, stop };
}

interface AstNode {
  type?: string;
  name?: string;
  [key: string]: unknown;
}

/** Metric names an expression selects, from Prometheus's own parser (/api/v1/parse_query). */
export async function selectedMetricNames(prom: PrometheusServer, expr: string): Promise<string[]> {
  const ast = await prom.api<AstNode>('parse_query', { query: expr });
  const names: string[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n === null || typeof n !== 'object') return;
    const node = n as AstNode;
    if ((node.type === 'vectorSelector' || node.type === 'matrixSelector') && typeof node.name === 'string' && node.name) names.push(node.name);
    for (const v of Object.values(node)) walk(v);
  };
  walk(ast);
  return names;
}
