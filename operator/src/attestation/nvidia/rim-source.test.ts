import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { H100_2023 } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { startRimService, type LocalServer } from '../../../test/fixtures/nvidia/support/servers.ts';
import { DirectoryRimSource, HttpRimSource, MapRimSource, PolicyRimSource, RIM_RESPONSE_CAP, decodeRimServiceBody } from './rim-source.ts';
import { failure } from '../../../test/fixtures/nvidia/support/fixtures.ts';

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const rims = new Map([
  [H100_2023.driverRimId, H100_2023.driverRim],
  [H100_2023.vbiosRimId, H100_2023.vbiosRim],
]);

describe('HttpRimSource (local stand-in for rim.attestation.nvidia.com)', () => {
  it('fetches by RIM id, decodes the base64 body, and serves repeats from cache even during an outage', async () => {
    const s = await startRimService(rims);
    servers.push(s);
    const source = new HttpRimSource({ baseUrl: s.url });
    expect(await source.getRim(H100_2023.driverRimId)).toBe(H100_2023.driverRim);
    await s.close();
    servers.pop();
    expect(await source.getRim(H100_2023.driverRimId)).toBe(H100_2023.driverRim);
    await expect(source.getRim(H100_2023.vbiosRimId)).rejects.toMatchObject({ code: 'RimUnavailable', message: expect.stringMatching(/unreachable/) });
  });

  it('maps 404 to "no such RIM" and other statuses to RimUnavailable; honours the policy URL', async () => {
    const s = await startRimService(rims);
    const down = await startRimService(rims, { status: 503 });
    servers.push(s, down);
    const source = new HttpRimSource({ baseUrl: down.url });
    await expect(source.getRim('NV_GPU_DRIVER_GH100_1.0')).rejects.toMatchObject({ code: 'RimUnavailable', message: expect.stringMatching(/HTTP 503/) });
    expect(await source.getRim('NV_GPU_DRIVER_GH100_1.0', { serviceUrl: s.url })).toBeUndefined();
    expect(await source.getRim(H100_2023.vbiosRimId, { serviceUrl: s.url })).toBe(H100_2023.vbiosRim);
    await expect(source.getRim('../../etc/passwd')).rejects.toMatchObject({ code: 'RimMissing' });
  });

  it('coalesces concurrent requests for the same RIM', async () => {
    const s = await startRimService(rims);
    servers.push(s);
    const source = new HttpRimSource({ baseUrl: s.url });
    await Promise.all(Array.from({ length: 8 }, () => source.getRim(H100_2023.driverRimId)));
    expect(s.requests).toBe(1);
  });
});

describe('offline RIM sources', () => {
  it('DirectoryRimSource reads <id>, <id>.xml, <id>.swidtag and RIM-service JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rims-'));
    try {
      await writeFile(join(dir, `${H100_2023.driverRimId}.swidtag`), H100_2023.driverRim);
      await writeFile(join(dir, `${H100_2023.vbiosRimId}.json`), JSON.stringify({ id: H100_2023.vbiosRimId, rim: Buffer.from(H100_2023.vbiosRim).toString('base64') }));
      const source = new DirectoryRimSource(dir);
      expect(await source.getRim(H100_2023.driverRimId)).toBe(H100_2023.driverRim);
      expect(await source.getRim(H100_2023.vbiosRimId)).toBe(H100_2023.vbiosRim);
      expect(await source.getRim('NV_GPU_DRIVER_GH100_0.0')).toBeUndefined();
      await expect(source.getRim('a/b')).rejects.toMatchObject({ code: 'RimMissing' });
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('MapRimSource and PolicyRimSource: a ConfigMap reference means offline only', async () => {
    const map = new MapRimSource(rims);
    expect(await map.getRim(H100_2023.driverRimId)).toBe(H100_2023.driverRim);
    map.replace(new Map());
    expect(await map.getRim(H100_2023.driverRimId)).toBeUndefined();
    const s = await startRimService(rims);
    servers.push(s);
    const policy = new PolicyRimSource({ http: new HttpRimSource({ baseUrl: s.url }), configMaps: (n) => (n === 'gpu-rims' ? new Map() : undefined) });
    expect(await policy.getRim(H100_2023.driverRimId, { configMapName: 'gpu-rims' })).toBeUndefined();
    expect(s.requests).toBe(0);
    await expect(policy.getRim(H100_2023.driverRimId, { configMapName: 'other' })).rejects.toMatchObject({ code: 'RimUnavailable' });
    expect(await policy.getRim(H100_2023.driverRimId)).toBe(H100_2023.driverRim);
  });
});

describe('RIM sources: reply decoding, ids, errors by name', () => {
  /** A local HTTP peer for reply shapes the RIM service helper cannot produce. */
  async function rawServer(handle: (res: ServerResponse, headers: IncomingHttpHeaders) => void): Promise<string> {
    const server = createServer((req, res) => handle(res, req.headers));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.on('connection', (socket) => socket.unref());
    servers.push({ url: '', requests: 0, close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/rim/`;
  }
  const id = H100_2023.driverRimId;

  it('decodes a RIM service reply: raw XML (leading whitespace kept), or JSON with a non-empty base64 rim', () => {
    expect(decodeRimServiceBody(' \n<a/>', id)).toBe(' \n<a/>');
    expect(decodeRimServiceBody(JSON.stringify({ rim: Buffer.from('<x/>').toString('base64') }), id)).toBe('<x/>');
    const refused = (body: string) => failure(() => decodeRimServiceBody(body, id));
    expect(refused('hello')).toMatchObject({ code: 'RimUnavailable', message: `RIM service reply for ${id} is neither JSON nor XML` });
    for (const body of ['null', '"x"', '{}', '{"rim":""}', '{"rim":5}', '[1]']) {
      expect(refused(body)).toMatchObject({ code: 'RimUnavailable', message: `RIM service reply for ${id} has no 'rim' field` });
    }
  });

  it('refuses an id with characters outside [A-Za-z0-9_.-], quoting at most 64 of them', async () => {
    await expect(new DirectoryRimSource('/nonexistent').getRim(`${'a'.repeat(70)}/`)).rejects.toMatchObject({
      code: 'RimMissing',
      message: `RIM id '${'a'.repeat(64)}' contains characters outside [A-Za-z0-9_.-]`,
    });
  });

  it('DirectoryRimSource: a file without the .json suffix is taken as it is; a read error other than ENOENT is named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rims-'));
    try {
      const json = JSON.stringify({ rim: Buffer.from('<x/>').toString('base64') });
      await writeFile(join(dir, id), json);
      await writeFile(join(dir, `${H100_2023.vbiosRimId}.xml`), '<v/>');
      const source = new DirectoryRimSource(dir);
      expect(await source.getRim(id)).toBe(json);
      expect(await source.getRim(H100_2023.vbiosRimId)).toBe('<v/>');
      await mkdir(join(dir, 'NV_GPU_DRIVER_GH100_9.9'));
      await expect(source.getRim('NV_GPU_DRIVER_GH100_9.9')).rejects.toMatchObject({
        code: 'RimUnavailable',
        message: `cannot read RIM NV_GPU_DRIVER_GH100_9.9 from ${dir}: EISDIR`,
      });
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('HttpRimSource: asks for JSON, joins a base URL without a slash, uses the injected fetch and the cache size', async () => {
    const accepts: (string | undefined)[] = [];
    const base = await rawServer((res, headers) => {
      accepts.push(headers.accept);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rim: Buffer.from('<r/>').toString('base64') }));
    });
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const source = new HttpRimSource({ baseUrl: base.replace(/\/$/, ''), fetch: counting, cacheSize: 1 });
    expect(await source.getRim(id)).toBe('<r/>');
    expect(accepts).toEqual(['application/json']);
    await source.getRim(H100_2023.vbiosRimId);
    // The second RIM pushed the first out of a one-entry cache.
    await source.getRim(id);
    expect(calls).toBe(3);
    const s = await startRimService(rims);
    servers.push(s);
    expect(await new HttpRimSource({ baseUrl: s.url.replace(/\/$/, '') }).getRim(id)).toBe(H100_2023.driverRim);
  });

  it('HttpRimSource: names each outage, and asks again after a failed request', async () => {
    const hang = await rawServer(() => undefined);
    await expect(new HttpRimSource({ baseUrl: hang, timeoutMs: 200 }).getRim(id)).rejects.toMatchObject({
      code: 'RimUnavailable',
      message: `RIM service ${new URL(hang).origin} unreachable for ${id}: timed out after 200 ms`,
    });
    const big = await rawServer((res) => res.writeHead(200).end(Buffer.alloc(RIM_RESPONSE_CAP + 1, 0x20)));
    await expect(new HttpRimSource({ baseUrl: big }).getRim(id)).rejects.toMatchObject({
      code: 'RimUnavailable',
      message: `RIM service reply for ${id} exceeds ${RIM_RESPONSE_CAP} bytes`,
    });
    const redirect = await rawServer((res) => res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end());
    await expect(new HttpRimSource({ baseUrl: redirect }).getRim(id)).rejects.toMatchObject({
      message: `RIM service ${new URL(redirect).origin} unreachable for ${id}: answered with a redirect (not followed)`,
    });
    await expect(new HttpRimSource({ baseUrl: 'http://127.0.0.1:1/' }).getRim(id)).rejects.toMatchObject({
      message: `RIM service http://127.0.0.1:1 unreachable for ${id}: connection failed`,
    });
    const down = await startRimService(rims, { status: 503 });
    servers.push(down);
    const source = new HttpRimSource({ baseUrl: down.url });
    await expect(source.getRim(id)).rejects.toMatchObject({ message: `RIM service answered HTTP 503 for ${id}` });
    await expect(source.getRim(id)).rejects.toMatchObject({ code: 'RimUnavailable' });
    expect(down.requests).toBe(2);
  });

  it('PolicyRimSource names a ConfigMap that is not loaded, and refuses the network when it has none', async () => {
    const policy = new PolicyRimSource({ configMaps: () => undefined });
    await expect(policy.getRim(id, { configMapName: 'gpu-rims' })).rejects.toMatchObject({
      code: 'RimUnavailable',
      message: "RIM ConfigMap 'gpu-rims' is not loaded",
    });
    await expect(policy.getRim(id)).rejects.toMatchObject({
      code: 'RimUnavailable',
      message: 'no RIM ConfigMap is configured and network RIM lookup is disabled',
    });
  });
});
