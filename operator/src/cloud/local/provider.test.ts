import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError, type InstanceOwner } from '../provider.ts';
import { startLocalCloud, type LocalCloud } from '../../sim/local/cloud-server.ts';
import { localGuests, workloadGuestLauncher } from '../../sim/local/guest-launcher.ts';
import type { SimulatedGuest } from '../../sim/guest/guest.ts';
import { initDataDigestOf, initDataForPolicy } from '../../pep/attestation.ts';
import { createLocalProvider } from './provider.ts';
import { startHostilePeer, type HostileMode } from '../../../test/support/hostile-http.ts';

const owner: InstanceOwner = { clusterId: 'cluster-a', namespace: 'ns', name: 'agent', uid: 'uid-1' };
const spec = { bootDelaySeconds: 0, workload: { model: 'test-model', port: 18789 }, guestApiPort: 8006, manifest: [] };

/** The primary evidence a guest presents in a prepare (what the operator verifies). */
async function sampleAttesterOf(guest: SimulatedGuest): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${guest.apiPort}/cdh/resource-injection/prepare/default/x/y`, { method: 'POST', body: JSON.stringify({ nonce: 'n-1' }) });
  const body = (await res.json()) as { evidence: string };
  return (JSON.parse(Buffer.from(body.evidence, 'base64').toString()) as { primary_evidence: unknown }).primary_evidence;
}

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

  it('a rebooted instance keeps its id, comes back with a new guest and a later startedAt', async () => {
    const provider = createLocalProvider({ url: cloud.url });
    const created = await provider.create({ token: 'token-reboot', owner: { ...owner, uid: 'uid-reboot' }, spec, labels: {} });
    const running = (since?: string) =>
      waitFor(async () => {
        const i = await provider.describe(created.id);
        return i?.state === 'Running' && i.startedAt !== since ? i : undefined;
      }, 'Running');
    const first = await running();
    expect(first.startedAt).toBeDefined();
    expect(cloud.reboot(created.id, 20)).toBe(true);
    expect((await provider.describe(created.id))?.state).toBe('Starting');
    await new Promise((r) => setTimeout(r, 5)); // startedAt has millisecond resolution
    const again = await running(first.startedAt);
    expect(again.id).toBe(first.id);
    expect(Date.parse(again.startedAt!)).toBeGreaterThan(Date.parse(first.startedAt!));
    expect(again.ports?.[8006]).not.toBe(first.ports?.[8006]); // a new guest process
    expect(cloud.reboot('local-nonexistent')).toBe(false);
  });

  it('a lost create or delete answer: the request took effect, the client sees a transport error and recovers by token', async () => {
    const provider = createLocalProvider({ url: cloud.url });
    const lostOwner = { ...owner, uid: 'uid-lost' };
    cloud.loseAnswers('create', 1);
    const err = await provider.create({ token: 'token-lost-1', owner: lostOwner, spec, labels: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).kind).toBe('Retryable');
    const found = await provider.findByToken('token-lost-1', lostOwner);
    expect(found).toBeDefined();
    expect((await provider.create({ token: 'token-lost-1', owner: lostOwner, spec, labels: {} })).id).toBe(found!.id);
    expect(cloud.history().filter((r) => r.owner.uid === 'uid-lost')).toHaveLength(1);
    cloud.loseAnswers('delete', 1);
    await expect(provider.delete(found!.id)).rejects.toBeInstanceOf(ProviderError);
    await waitFor(async () => ((await provider.describe(found!.id)) === undefined ? true : undefined), 'deleted');
    await provider.delete(found!.id); // already gone: success
    expect(cloud.lostAnswers()).toEqual({ create: 1, delete: 1 });
  });

  it('launches the guest with the init-data of the create request (its evidence then binds that digest)', async () => {
    const guests = localGuests();
    const own = await startLocalCloud({ launchGuest: guests.launch, pendingMs: 5 });
    try {
      const provider = createLocalProvider({ url: own.url });
      const initData = initDataForPolicy(`sha256:${'b'.repeat(64)}`);
      const created = await provider.create({ token: 'token-init', owner, spec: { ...spec, initData }, labels: {} });
      await waitFor(async () => ((await provider.describe(created.id))?.state === 'Running' ? true : undefined), 'Running');
      const guest = guests.guest(created.id)!;
      const evidence = (await sampleAttesterOf(guest)) as { init_data?: string };
      expect(evidence.init_data).toBe(initDataDigestOf(initData).toString('base64'));
    } finally {
      await own.close();
    }
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
    // init-data: a string of at most 64 KiB (it is measured at launch; the KBS's limit)
    await expect(provider.create({ token: 'token-init-big', owner, spec: { ...spec, initData: 'x'.repeat(64 * 1024 + 1) }, labels: {} })).rejects.toMatchObject({ kind: 'InvalidSpec' });
    await expect(provider.create({ token: 'token-init-num', owner, spec: { ...spec, initData: 7 as unknown as string }, labels: {} })).rejects.toMatchObject({ kind: 'InvalidSpec' });
    expect(cloud.instances().some((i) => i.token.startsWith('token-init-'))).toBe(false);
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
