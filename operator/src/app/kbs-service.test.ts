// The KBS service's bound on a stale policy view: a replica whose policies informer has had no watch for
// longer than maxPolicyStalenessMs attests and releases nothing, and serves again once the watch is back.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { SealedCredential } from '../api/sealed-credential.ts';
import { EarSigner } from '../attestation/policy/ear.ts';
import { createKeyring } from '../release/sealing/keyring.ts';
import { KbsClient, KbsClientError } from '../sim/guest/kbs-client.ts';
import { agent, readyPolicy, sealedCredential } from '../../test/support/agent-fixtures.ts';
import { MemoryInformer } from '../../test/support/memory-informer.ts';
import { startKbsService, type KbsService } from './kbs-service.ts';

const PATH = 'default/local-resources/stale_view';

/** A policies informer whose watch the test connects and disconnects. */
class PolicyWatch extends MemoryInformer<AttestationPolicy> {
  unconfirmedMs = 0;
  unconfirmedForMs(): number {
    return this.unconfirmedMs;
  }
}

let kbs: KbsService | undefined;
afterEach(async () => {
  await kbs?.server.close();
  kbs = undefined;
});

const waitUntil = async (what: string, ok: () => Promise<boolean>) => {
  for (const end = Date.now() + 10_000; Date.now() < end; ) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe('KBS service: policy view staleness', () => {
  it('refuses attestation while no watch has confirmed the policies for longer than the bound, and serves again when it is back', async () => {
    const keyring = await createKeyring(new Date());
    const agents = new MemoryInformer<ConfidentialAgent>();
    const policies = new PolicyWatch();
    const credentials = new MemoryInformer<SealedCredential>();
    agents.set(agent('bot', { credentials: [{ name: 'cred' }], delivery: { mode: 'KBS' } }, { status: { instance: { id: 'i-1', state: 'Running', address: '127.0.0.1:8006' } } } as Partial<ConfidentialAgent>));
    policies.set(readyPolicy());
    credentials.set(sealedCredential(keyring, 'cred', PATH, 'the-value', ['bot']));
    const warnings: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    kbs = await startKbsService({ agents, policies, credentials, keyring: () => keyring, signer: EarSigner.generate(), host: '127.0.0.1', port: 0, tls: { mode: 'http' }, logger, isolation: 'inline', snapshotDebounceMs: 10, maxPolicyStalenessMs: 1_000 });
    const fetchOnce = () => new KbsClient({ baseUrl: kbs!.url, handshakeAttempts: 1, getAttempts: 2 }).getResource(PATH);

    expect((await fetchOnce()).toString()).toBe('the-value');

    // The watch is lost: within the bound the KBS still serves from its cache ...
    policies.unconfirmedMs = 900;
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await fetchOnce()).toString()).toBe('the-value');
    // ... past it, no policy applies to anyone: nothing is attested, nothing released.
    policies.unconfirmedMs = 1_001;
    await waitUntil('the KBS to withhold its policies', async () => fetchOnce().then(() => false, (err: unknown) => err instanceof KbsClientError && err.code === 'AttestationRefused'));
    expect(warnings).toContain('kbs: no watch has confirmed the AttestationPolicies for too long; attesting and releasing nothing until it is back');

    // The watch is back: serving again.
    policies.unconfirmedMs = 0;
    await waitUntil('the KBS to serve again', async () => fetchOnce().then((v) => v.toString() === 'the-value', () => false));
    expect(warnings).toContain('kbs: the AttestationPolicies are confirmed by a watch again; serving');
  });
});
