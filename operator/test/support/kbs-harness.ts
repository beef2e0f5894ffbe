// Test/bench harness: a KBS server on loopback wired to decideRelease over in-memory lists, with one agent,
// one development policy and one sealed credential. Used by the KBS tests, the simulated-guest tests and
// the benchmark; production wiring lives in the controllers.
import { AttestationPolicySpecSchema } from '../../src/api/attestation-policy.ts';
import { EarSigner } from '../../src/attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../../src/attestation/registry.ts';
import { seal } from '../../src/release/sealing/envelope.ts';
import { createKeyring, type SealingKeyring } from '../../src/release/sealing/keyring.ts';
import { admitsFromLists, entitlementsFromLists, policyForFromLists, type AgentRecord, type CredentialRecord, type PolicyRecord } from '../../src/release/kbs/decide-release.ts';
import { createKbsServer, type KbsServer, type KbsServerOptions } from '../../src/release/kbs/server.ts';
import type { KbsEvent } from '../../src/release/kbs/types.ts';

export const TEST_RESOURCE = 'default/local-resources/openclaw_vllm_config';
export const TEST_SECRET = '{"clientSecret":"kbs-test-secret-5c1d"}';

export interface TestKbs {
  url: string;
  kbs: KbsServer;
  keyring: SealingKeyring;
  signer: EarSigner;
  events: KbsEvent[];
  lists: { credentials: CredentialRecord[]; agents: AgentRecord[]; policies: PolicyRecord[] };
  sealCredential(name: string, resourcePath: string, value: string, scope?: CredentialRecord['scope']): CredentialRecord;
  close(): Promise<void>;
}

/** What replicas share (in production: the Secrets and informer caches every replica reads). */
export interface SharedKbsState {
  keyring: SealingKeyring;
  signer: EarSigner;
  lists: TestKbs['lists'];
}

export async function startTestKbs(opts: { policy?: object; now?: () => number; server?: Partial<KbsServerOptions>; shared?: SharedKbsState } = {}): Promise<TestKbs> {
  if (opts.shared) return startServer(opts.shared, opts, sealerFor(opts.shared.keyring, opts.shared.lists));
  const keyring = await createKeyring(new Date());
  const signer = EarSigner.generate();
  const spec = AttestationPolicySpecSchema.parse(opts.policy ?? { allowSampleTee: true, minimumStatus: 'warning' });
  const lists = {
    credentials: [] as CredentialRecord[],
    agents: [{ namespace: 'agents', name: 'bot', policyName: 'dev', credentials: ['im-secret'], identity: { peerAddress: '127.0.0.1' } }] as AgentRecord[],
    policies: [{ namespace: 'agents', name: 'dev', spec, referenceValues: [] }] as PolicyRecord[],
  };
  const sealCredential = sealerFor(keyring, lists);
  sealCredential('im-secret', TEST_RESOURCE, TEST_SECRET);
  return startServer({ keyring, signer, lists }, opts, sealCredential);
}

function sealerFor(keyring: SealingKeyring, lists: TestKbs['lists']): TestKbs['sealCredential'] {
  return (name, resourcePath, value, scope = { mode: 'Strict', agents: [] }) => {
    const encryptedData = seal(keyring.certificatePem, Buffer.from(value), { namespace: 'agents', name, ...scope, resourcePath });
    const rec = { namespace: 'agents', name, resourcePath, scope, encryptedData };
    lists.credentials.push(rec);
    return rec;
  };
}

async function startServer(shared: SharedKbsState, opts: { now?: () => number; server?: Partial<KbsServerOptions> }, sealCredential: TestKbs['sealCredential']): Promise<TestKbs> {
  const { keyring, signer, lists } = shared;
  const events: KbsEvent[] = [];
  const now = opts.now ?? Date.now;
  const kbs = createKbsServer({
    registry: defaultVerifierRegistry(),
    signer,
    policyFor: policyForFromLists({ snapshot: () => lists }),
    admits: admitsFromLists({ snapshot: () => lists }),
    entitlements: entitlementsFromLists({ snapshot: () => lists, keyring: () => keyring, now: () => new Date(now()) }),
    now,
    onEvent: (e) => events.push(e),
    ...opts.server,
  });
  const { url } = await kbs.listen(0);
  return { url, kbs, keyring, signer, events, lists, sealCredential, close: () => kbs.close() };
}
