// Connection reuse for @kubernetes/client-node 2.0.1. Its KubeConfig builds a brand-new undici Agent
// for every request (applySecurityAuthentication -> createDispatcher), so no connection is ever reused:
// each API call pays a TLS handshake and leaves an idle keep-alive socket behind (measured: 202 open
// sockets after 200 GETs, ~200 MiB RSS). We memoise the dispatcher per cluster + TLS material on the
// KubeConfig instance, which is what client-go's transport cache does.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';

type DispatcherFactory = (cluster: { server?: string; proxyUrl?: string; skipTLSVerify?: boolean } | null, agentOptions: Record<string, unknown>) => unknown;
const SHARED = Symbol.for('confidential-agent.io/shared-dispatcher');

export function shareDispatcher(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createDispatcher?: DispatcherFactory; [SHARED]?: Map<string, unknown> };
  if (target[SHARED] || typeof target.createDispatcher !== 'function') return kc;
  const original = target.createDispatcher.bind(kc);
  const cache = new Map<string, unknown>();
  target[SHARED] = cache;
  target.createDispatcher = (cluster, agentOptions) => {
    const key = dispatcherKey(cluster, agentOptions);
    if (!cache.has(key)) cache.set(key, original(cluster, agentOptions));
    return cache.get(key);
  };
  return kc;
}

/** Dispatchers created so far (for tests: one per cluster and credential). */
export function sharedDispatcherCount(kc: KubeConfig): number {
  return (kc as unknown as { [SHARED]?: Map<string, unknown> })[SHARED]?.size ?? 0;
}

function dispatcherKey(cluster: Parameters<DispatcherFactory>[0], options: Record<string, unknown>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([cluster?.server, cluster?.proxyUrl, cluster?.skipTLSVerify, options.rejectUnauthorized, options.servername]));
  for (const name of ['ca', 'cert', 'key', 'pfx', 'passphrase']) {
    const value = options[name];
    if (value === undefined) continue;
    hash.update(`\0${name}\0`);
    const parts = Array.isArray(value) ? value : [value];
    for (const part of parts) hash.update(Buffer.isBuffer(part) ? part : String(part));
  }
  return hash.digest('hex');
}
