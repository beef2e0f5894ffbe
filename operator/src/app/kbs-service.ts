// The operator's KBS (pull delivery): the KBS 0.4.0 server from release/kbs, fed from the informer
// caches (which agents may receive which credentials, under which policy). What it releases is buffered
// per agent and announced to listeners (the agent controller re-queues the agent, and its release phase
// records the delivery in the agent's status — status, not this buffer, is the source of truth).
import type { Logger } from 'pino';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import { isPolicyReady } from '../api/conditions.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { SealedCredential } from '../api/sealed-credential.ts';
import type { EarSigner } from '../attestation/policy/ear.ts';
import type { VerifierRegistry } from '../attestation/registry.ts';
import type { KbsDeliveries } from '../controllers/agent/release.ts';
import { entitlementsFromLists, normalizeAddress, type AgentRecord, type PolicyRecord } from '../release/kbs/decide-release.ts';
import { createKbsServer, type KbsServer } from '../release/kbs/server.ts';
import type { SealingKeyring } from '../release/sealing/keyring.ts';
import type { SharedInformer } from '../runtime/manager.ts';

export interface KbsService {
  server: KbsServer;
  url: string;
  deliveries: KbsDeliveries;
  /** Calls listener with the agent key (`namespace/name`) after each release. */
  onRelease(listener: (agentKey: string) => void): void;
}

export async function startKbsService(deps: {
  agents: SharedInformer<ConfidentialAgent>;
  policies: SharedInformer<AttestationPolicy>;
  credentials: SharedInformer<SealedCredential>;
  keyring: () => SealingKeyring;
  registry: VerifierRegistry;
  signer: EarSigner;
  host: string;
  port: number;
  publicUrl?: string;
  logger: Logger;
}): Promise<KbsService> {
  const released = new Map<string, Map<string, { resourcePath: string; at: string }>>();
  const listeners: Array<(agentKey: string) => void> = [];
  const policyRecord = (p: AttestationPolicy): PolicyRecord => ({
    namespace: p.metadata.namespace ?? '',
    name: p.metadata.name,
    spec: p.spec,
    referenceValues: p.status?.referenceValues ?? [],
  });
  const agentRecord = (a: ConfidentialAgent): AgentRecord => {
    const host = a.status?.instance?.address?.replace(/:\d+$/, '');
    return {
      namespace: a.metadata.namespace ?? '',
      name: a.metadata.name,
      policyName: a.spec.attestationPolicyRef.name,
      credentials: a.spec.credentials.map((c) => c.name),
      ...(host ? { identity: { peerAddress: host } } : {}),
    };
  };
  const server = createKbsServer({
    registry: deps.registry,
    signer: deps.signer,
    // The policy that appraises an attestation: that of the running agent(s) at the requester's address.
    policyFor: async (query) => {
      const agent = deps.agents
        .list()
        .find((a) => normalizeAddress(a.status?.instance?.address?.replace(/:\d+$/, '')) === normalizeAddress(query.peerAddress) && a.spec.delivery.mode === 'KBS');
      const policy = agent ? deps.policies.get(agent.metadata.namespace, agent.spec.attestationPolicyRef.name) : undefined;
      if (!policy || !isPolicyReady(policy)) return undefined;
      const record = policyRecord(policy);
      return { id: `${record.namespace}/${record.name}`, spec: record.spec, referenceValues: record.referenceValues };
    },
    entitlements: entitlementsFromLists({
      snapshot: () => ({
        credentials: deps.credentials.list().map((c) => ({
          namespace: c.metadata.namespace ?? '',
          name: c.metadata.name,
          resourcePath: c.spec.resourcePath,
          scope: c.spec.scope,
          encryptedData: c.spec.encryptedData,
        })),
        agents: deps.agents.list().filter((a) => a.spec.delivery.mode === 'KBS').map(agentRecord),
        policies: deps.policies.list().filter(isPolicyReady).map(policyRecord),
      }),
      keyring: deps.keyring,
    }),
    logger: deps.logger,
    onEvent: (e) => {
      if (e.type !== 'released') return;
      const byCredential = released.get(e.agent) ?? new Map<string, { resourcePath: string; at: string }>();
      byCredential.set(e.credential.split('/').pop() ?? e.credential, { resourcePath: e.resourcePath, at: new Date().toISOString() });
      released.set(e.agent, byCredential);
      for (const l of listeners) l(e.agent);
    },
  });
  const { port, url } = await server.listen(deps.port, deps.host);
  const publicUrl = deps.publicUrl ?? (deps.host === '0.0.0.0' || deps.host === '::' ? `http://127.0.0.1:${port}` : url);
  return {
    server,
    url: publicUrl,
    deliveries: {
      publicUrl,
      delivered: (agentKey) => released.get(agentKey) ?? new Map(),
      forget: (agentKey) => released.delete(agentKey),
    },
    onRelease: (listener) => void listeners.push(listener),
  };
}
