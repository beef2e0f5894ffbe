// The attestation service's inputs as plain, structured-cloneable records (they cross into its worker):
// Ready policies with their resolved reference values, and the agents an agent-scoped policy id can name.
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import { isPolicyReady } from '../api/conditions.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { AsSnapshot } from '../attestation/service/policy-source.ts';

export function asSnapshot(lists: {
  agents: ConfidentialAgent[];
  policies: AttestationPolicy[];
  configMaps?: Array<{ metadata?: { name?: string }; data?: Record<string, string> }>;
}): AsSnapshot {
  const configMaps: Record<string, Record<string, string>> = {};
  for (const cm of lists.configMaps ?? []) if (cm.metadata?.name) configMaps[cm.metadata.name] = cm.data ?? {};
  return {
    policies: lists.policies.map((p) => ({
      namespace: p.metadata.namespace ?? '',
      name: p.metadata.name,
      ready: isPolicyReady(p),
      spec: p.spec,
      referenceValues: (p.status?.referenceValues ?? []).map((r) => ({ name: r.name, digest: r.digest })),
    })),
    agents: lists.agents
      .filter((a) => a.metadata.uid)
      .map((a) => ({
        namespace: a.metadata.namespace ?? '',
        name: a.metadata.name,
        uid: a.metadata.uid!,
        policyName: a.spec.attestationPolicyRef.name,
        deleting: a.metadata.deletionTimestamp !== undefined,
      })),
    configMaps,
  };
}
