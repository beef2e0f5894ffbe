// A raw JSON GET against the API server for informer lists. The generated client-node APIs cannot
// address arbitrary resources (CustomObjectsApi has no core group) and deserialize into classes with
// Date fields; informers need the wire JSON for any resource, consistent with what watch events carry.

import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { RuntimeError } from './errors.ts';
import { collectionPath, type KubernetesObject, type ResourceRef } from './types.ts';

export interface ListPage<T> {
  items: T[];
  metadata: { resourceVersion: string; continue?: string };
}

const MAX_BODY = 512 * 1024 * 1024;

export async function getJson(kc: KubeConfig, path: string, query: Record<string, string>, signal: AbortSignal, timeoutMs = 60_000): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new RuntimeError('INVALID_ARGUMENT', 'kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const mod = url.protocol === 'http:' ? http : https;
  if (url.protocol === 'http:') delete opts.agent; // the kubeconfig agent is TLS-only
  // The agent comes from KubeConfig's per-cluster cache and is shared with other callers: never destroy it.
  return new Promise<unknown>((resolve, reject) => {
    const req = mod.request(url, { ...opts, signal, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new RuntimeError('API_ERROR', `GET ${url.pathname}: response larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        if (status !== 200) {
          const message = typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : `HTTP ${status}`;
          const code = status === 410 ? 'GONE' : status === 404 ? 'NOT_FOUND' : 'API_ERROR';
          reject(new RuntimeError(code, `GET ${url.pathname}: ${message}`, { status }));
        } else if (body === undefined) {
          reject(new RuntimeError('API_ERROR', `GET ${url.pathname}: response is not JSON`));
        } else {
          resolve(body);
        }
      });
    });
    req.on('timeout', () => req.destroy(new RuntimeError('TIMEOUT', `GET ${url.pathname}: no response within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * One object as the API server has it now (a quorum read, never a cache); undefined when it does not exist.
 * For decisions a stale informer must not make: a release, a deletion.
 */
export async function getObject<T extends KubernetesObject>(kc: KubeConfig, ref: ResourceRef, namespace: string, name: string, timeoutMs = 10_000): Promise<T | undefined> {
  try {
    return (await getJson(kc, `${collectionPath(ref, namespace)}/${encodeURIComponent(name)}`, {}, AbortSignal.timeout(timeoutMs), timeoutMs)) as T;
  } catch (err) {
    if (err instanceof RuntimeError && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
}

/** One page of a list call; checks the shape the informer relies on. */
export async function listPage<T extends KubernetesObject>(kc: KubeConfig, path: string, query: Record<string, string>, signal: AbortSignal): Promise<ListPage<T>> {
  const body = await getJson(kc, path, query, signal);
  if (typeof body !== 'object' || body === null) throw new RuntimeError('API_ERROR', `list ${path}: body is not an object`);
  const { items, metadata } = body as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } };
  if (items !== null && items !== undefined && !Array.isArray(items)) throw new RuntimeError('API_ERROR', `list ${path}: items is not an array`);
  if (typeof metadata?.resourceVersion !== 'string') throw new RuntimeError('API_ERROR', `list ${path}: metadata.resourceVersion missing`);
  const page: ListPage<T> = { items: (items ?? []) as T[], metadata: { resourceVersion: metadata.resourceVersion } };
  if (typeof metadata.continue === 'string' && metadata.continue) page.metadata.continue = metadata.continue;
  return page;
}
