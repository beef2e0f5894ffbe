import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError, type InstanceOwner } from '../provider.ts';
import { startLocalCloud, type LocalCloud } from '../../sim/local/cloud-server.ts';
import { workloadGuestLauncher } from '../../sim/local/guest-launcher.ts';
import { createLocalProvider } from './provider.ts';
import { startHostilePeer, type HostileMode } from '../../../test/support/hostile-http.ts';

const owner: InstanceOwner = { clusterId: 'cluster-a', namespace: 'ns', name: 'agent', uid: 'uid-1' };
const spec = { bootDelaySeconds: 0, workload: { model: 'test-model', port: 18789 }, guestApiPort: 8006, manifest: [] };

async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('local provider against the local cloud', () => {
  let cloud: LocalCloud;
  beforeAll(async () => {
    cloud = await startLocalCloud({ launchGuest: workloadGuestLauncher(), pendingMs: 5 });
  });
  afterAll(async () => cloud.close());

  it('creates idempotently by token, boots to Running and serves the workload endpoint', async () => {
    const provider = createLocalProvider({ url: cloud.url });
    const first = await provider.create({ token: 'token-0001', owner, spec, labels: {} });
    const again = await provider.create({ token: 'token-0001', owner, spec, labels: {} });
    expect(again.id).toBe(first.id);
    expect(first.state).toBe('Pending');
    const running = await waitFor(async () => {
      const i = await provider.describe(first.id);
      return i?.state === 'Running' ? i : undefined;
    }, 'Running');
    const port = running.ports?.[18789];
    expect(port).toBeGreaterThan(0);
    const models = (await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data[0]?.id).toBe('test-model');
    expect((await provider.findByToken('token-0001', owner))?.id).toBe(first.id);
    expect(await provider.findByToken('token-0001', { ...owner, uid: 'someone-else' })).toBeUndefined();
  });

  it('lists only instances of the asked cluster, and delete makes them disappear', async () => {
    const provider = createLocalProvider({ url: cloud.url });
    const mine = await provider.create({ token: 'token-mine', owner, spec, labels: {} });
    const theirs = await provider.create({ token: 'token-theirs', owner: { ...owner, clusterId: 'cluster-b' }, spec, labels: {} });
    const listed = (await provider.listOwned('cluster-a')).map((i) => i.id);
    expect(listed).toContain(mine.id);
    expect(listed).not.toContain(theirs.id);
    await provider.delete(mine.id);
    await waitFor(async () => ((await provider.describe(mine.id)) === undefined ? true : undefined), 'deletion');
    await provider.delete(mine.id); // deleting what is gone is success
    await provider.delete(theirs.id);
  });

  it('classifies a refused request as InvalidSpec and an unreachable cloud as Retryable', async () => {
    const provider = createLocalProvider({ url: cloud.url });
    await expect(provider.create({ token: 'short', owner, spec, labels: {} })).rejects.toMatchObject({ kind: 'InvalidSpec', code: 'InvalidParameter' });
    const down = createLocalProvider({ url: 'http://127.0.0.1:1', timeoutMs: 500 });
    const err = await down.listOwned('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).kind).toBe('Retryable');
  });
});

describe('local provider against a hostile local-cloud peer (bounded reads, timeouts)', () => {
  const cases: Array<[HostileMode, string]> = [
    ['oversized', 'LocalCloudBadResponse'],
    ['declared-oversized', 'LocalCloudBadResponse'],
    ['slow-loris', 'LocalCloudUnreachable'],
    ['truncated-json', 'LocalCloudBadResponse'],
  ];
  it.each(cases)('%s → Retryable %s, never more than the cap read', async (mode, code) => {
    const peer = await startHostilePeer(mode);
    try {
      const provider = createLocalProvider({ url: peer.url, timeoutMs: 400, maxResponseBytes: 64 * 1024 });
      const err = await provider.listOwned('cluster-a').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect([(err as ProviderError).kind, (err as ProviderError).code]).toEqual(['Retryable', code]);
      expect(peer.bytesWritten()).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await peer.close();
    }
  });
});
