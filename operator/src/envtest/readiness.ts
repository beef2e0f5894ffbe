// Polls kube-apiserver's /readyz with the admin certificate until it answers 200 ("ok"). Fails fast with
// the process's last log lines when the process exits during startup.
import { request } from 'node:https';
import { ControlPlaneError, type ManagedProcess } from './process.ts';

export interface TlsClient {
  ca: string;
  cert: string;
  key: string;
}

/** One GET; resolves with the status code and body, or the network error message. */
export function httpsGet(url: string, tls: TlsClient, timeoutMs = 2_000): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ error: err.message }));
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitForReadyz(server: string, tls: TlsClient, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  let exited: string | undefined;
  void proc.exited.then((how) => {
    exited = how;
  });
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new ControlPlaneError(
        'ApiServerExited',
        `kube-apiserver exited during startup (${exited}); last output from ${proc.logPath}:\n${proc.tail(30)}`,
      );
    }
    const res = await httpsGet(`${server}/readyz`, tls);
    if ('status' in res && res.status === 200) return;
    last = 'status' in res ? `HTTP ${res.status}: ${res.body.trim().split('\n').filter((l) => l.includes('failed')).join('; ') || res.body.slice(0, 200)}` : res.error;
    await sleep(100);
  }
  throw new ControlPlaneError(
    'ApiServerNotReady',
    `kube-apiserver at ${server} not ready after ${timeoutMs} ms (last /readyz: ${last}); last output from ${proc.logPath}:\n${proc.tail(30)}`,
  );
}

/** etcd answers GET /health with {"health":"true"} once it serves. */
export async function waitForEtcd(clientUrl: string, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!proc.isRunning()) {
      throw new ControlPlaneError('EtcdExited', `etcd exited during startup; last output from ${proc.logPath}:\n${proc.tail(30)}`);
    }
    try {
      const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
      const body = await res.text();
      if (res.ok && body.includes('"true"')) return;
      last = `HTTP ${res.status}: ${body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(50);
  }
  throw new ControlPlaneError('EtcdNotReady', `etcd at ${clientUrl} not healthy after ${timeoutMs} ms (${last}); last output:\n${proc.tail(30)}`);
}
