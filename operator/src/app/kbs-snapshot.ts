// The KBS's release inputs as plain, structured-cloneable records: built from the informer caches by
// whoever owns them (the operator's main thread, or `cai kbs`) and handed to the KBS (a worker thread, or
// the same process). Which agents count: those delivering by KBS; which policies: Ready ones.
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { SealedCredential } from '../api/sealed-credential.ts';
import { initDataDigestOf, initDataForPolicy } from '../pep/attestation.ts';
import type { AgentRecord, CredentialRecord, PolicyRecord } from '../release/kbs/decide-release.ts';

export interface KbsSnapshot {
  agents: AgentRecord[];
  policies: PolicyRecord[];
  credentials: CredentialRecord[];
  /** Operator-namespace ConfigMaps by name (offline GPU RIMs, policy.gpu.rimConfigMapRef). */
  configMaps: Record<string, Record<string, string>>;
}

export const EMPTY_SNAPSHOT: KbsSnapshot = { agents: [], policies: [], credentials: [], configMaps: {} };

/** The instance address without a port: what the agent's instance connects from. */
export function instanceHost(a: ConfidentialAgent): string | undefined {
  const address = a.status?.instance?.address;
  if (!address) return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address); // [v6]:port
  if (bracketed) return bracketed[1];
  // host:port (one colon); a bare IPv6 address has several and no port
  return address.split(':').length === 2 ? address.replace(/:\d+$/, '') : address;
}

export function agentRecord(a: ConfidentialAgent): AgentRecord {
  const host = instanceHost(a);
  // An instance launched with init-data (a sandbox policy digest) is also recognised by it: the KBS then
  // releases only to a requester whose attested init-data is exactly what this instance launched with.
  const launched = a.status?.instance?.sandboxPolicyDigest;
  const initDataDigest = launched ? initDataDigestOf(initDataForPolicy(launched)).toString('hex') : undefined;
  const identity = { ...(host ? { peerAddress: host } : {}), ...(initDataDigest ? { initDataDigest } : {}) };
  return {
    namespace: a.metadata.namespace ?? '',
    name: a.metadata.name,
    policyName: a.spec.attestationPolicyRef.name,
    credentials: a.spec.credentials.map((c) => c.name),
    ...(host || initDataDigest ? { identity } : {}),
  };
}

export function policyRecord(p: AttestationPolicy): PolicyRecord {
  return { namespace: p.metadata.namespace ?? '', name: p.metadata.name, spec: p.spec, referenceValues: p.status?.referenceValues ?? [] };
}

export function credentialRecord(c: SealedCredential): CredentialRecord {
  return { namespace: c.metadata.namespace ?? '', name: c.metadata.name, resourcePath: c.spec.resourcePath, scope: c.spec.scope, encryptedData: c.spec.encryptedData };
}

/**
 * The sandbox-policy phase refused the agent (its policy is invalid, or differs from what the running
 * instance launched with): the KBS releases nothing to it either, as the release phase pushes nothing.
 */
const sandboxPolicyRefused = (a: ConfidentialAgent) => a.status?.conditions?.some((c) => c.type === 'SandboxPolicyReady' && c.status === 'False') ?? false;

const ready = (p: AttestationPolicy) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export function kbsSnapshot(lists: {
  agents: ConfidentialAgent[];
  policies: AttestationPolicy[];
  credentials: SealedCredential[];
  configMaps?: Array<{ metadata?: { name?: string }; data?: Record<string, string> }>;
}): KbsSnapshot {
  const configMaps: Record<string, Record<string, string>> = {};
  for (const cm of lists.configMaps ?? []) if (cm.metadata?.name) configMaps[cm.metadata.name] = cm.data ?? {};
  return {
    agents: lists.agents.filter((a) => a.spec.delivery.mode === 'KBS' && !sandboxPolicyRefused(a)).map(agentRecord),
    policies: lists.policies.filter(ready).map(policyRecord),
    credentials: lists.credentials.map(credentialRecord),
    configMaps,
  };
}
