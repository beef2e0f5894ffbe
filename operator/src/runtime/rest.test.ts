// The informer's list client against a local HTTP server: the real API server never sends malformed
// lists, so the negative cases (shape errors, non-JSON, error statuses, hangs) need a server we control.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from './errors.ts';
import { getJson, listPage } from './rest.ts';

let server: http.Server;
let kc: KubeConfig;
const seen: Array<{ url: string; auth: string | undefined }> = [];
const replies: Record<string, { status: number; body: string } | 'hang'> = {
  '/ok': { status: 200, body: JSON.stringify({ items: [{ metadata: { name: 'a' } }], metadata: { resourceVersion: '7', continue: 'next' } }) },
  '/empty': { status: 200, body: JSON.stringify({ items: null, metadata: { resourceVersion: '8' } }) },
  '/not-json': { status: 200, body: '<html>' },
  '/array': { status: 200, body: '[1,2]' },
  '/items-object': { status: 200, body: JSON.stringify({ items: {}, metadata: { resourceVersion: '1' } }) },
  '/no-rv': { status: 200, body: JSON.stringify({ items: [] }) },
  '/gone': { status: 410, body: JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'The provided continue parameter is too old' }) },
  '/forbidden': { status: 403, body: JSON.stringify({ kind: 'Status', code: 403, message: 'configmaps is forbidden: User "x" cannot list resource' }) },
  '/plain-500': { status: 500, body: 'oops' },
  '/hang': 'hang',
};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    const r = replies[url.pathname];
    if (r === 'hang' || r === undefined) return; // never answer
    res.writeHead(r.status, { 'Content-Type': 'application/json' }).end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }], // client-node allows plain HTTP only so
    users: [{ name: 'u', token: 'test-token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const never = new AbortController().signal;

describe('listPage / getJson', () => {
  it('returns items, resourceVersion and continue; sends the query and the bearer token', async () => {
    const page = await listPage(kc, '/ok', { limit: '500', labelSelector: 'a=b' }, never);
    expect(page).toEqual({ items: [{ metadata: { name: 'a' } }], metadata: { resourceVersion: '7', continue: 'next' } });
    const req = seen.find((s) => s.url.startsWith('/ok'));
    expect(req?.url).toBe('/ok?limit=500&labelSelector=a%3Db');
    expect(req?.auth).toBe('Bearer test-token');
  });

  it('treats items: null as an empty list', async () => {
    expect((await listPage(kc, '/empty', {}, never)).items).toEqual([]);
  });

  it.each([
    ['/not-json', /response is not JSON/],
    ['/array', /items is not an array|metadata.resourceVersion missing/],
    ['/items-object', /items is not an array/],
    ['/no-rv', /metadata.resourceVersion missing/],
  ])('rejects a malformed list body (%s) with a specific error', async (path, message) => {
    const err = await listPage(kc, path, {}, never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('API_ERROR');
    expect((err as Error).message).toMatch(message);
  });

  it('maps error statuses to codes and keeps the API server message', async () => {
    await expect(getJson(kc, '/gone', {}, never)).rejects.toMatchObject({ code: 'GONE', status: 410, message: expect.stringMatching(/continue parameter is too old/) });
    await expect(getJson(kc, '/forbidden', {}, never)).rejects.toMatchObject({ code: 'API_ERROR', status: 403, message: expect.stringMatching(/forbidden/) });
    await expect(getJson(kc, '/plain-500', {}, never)).rejects.toMatchObject({ status: 500, message: expect.stringMatching(/HTTP 500/) });
  });

  it('gives up on a server that never answers (timeout) and honours an abort signal', async () => {
    await expect(getJson(kc, '/hang', {}, never, 150)).rejects.toMatchObject({ code: 'TIMEOUT' });
    const ac = new AbortController();
    const p = getJson(kc, '/hang', {}, ac.signal);
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toThrow(/abort/i);
  });
});
