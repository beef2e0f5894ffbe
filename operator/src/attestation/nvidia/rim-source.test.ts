import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { H100_2023 } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { startRimService, type LocalServer } from '../../../test/fixtures/nvidia/support/servers.ts';
import { DirectoryRimSource, HttpRimSource, MapRimSource, PolicyRimSource } from './rim-source.ts';

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
