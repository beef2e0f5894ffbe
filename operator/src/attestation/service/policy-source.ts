// Policy lookup for the attestation service, separate from the protocol: a snapshot of the AttestationPolicies
// and ConfidentialAgents (plain records the host builds from its informers) resolves a policy id to what
// the appraisal needs. Pure: an id + the snapshot in, a resolution or a coded refusal out.
import type { AttestationPolicySpec } from '../../api/attestation-policy.ts';
import { agentInitDataDigest } from '../../protocol/agent-init-data.ts';
import type { ReferenceValue } from '../policy/reference-values.ts';
import type { AsErrorCode } from './errors.ts';
import type { PolicyId } from './policy-id.ts';

export interface AsPolicyRecord {
  namespace: string;
  name: string;
  /** isPolicyReady(): Ready=True for the current generation. */
  ready: boolean;
  spec: AttestationPolicySpec;
  referenceValues: ReferenceValue[];
}

export interface AsAgentRecord {
  namespace: string;
  name: string;
  uid: string;
  policyName: string;
  deleting: boolean;
}

export interface AsSnapshot {
  policies: AsPolicyRecord[];
  agents: AsAgentRecord[];
  /** Operator-namespace ConfigMaps by name (offline GPU RIMs). */
  configMaps: Record<string, Record<string, string>>;
}

export const EMPTY_AS_SNAPSHOT: AsSnapshot = { policies: [], agents: [], configMaps: {} };

export type PolicyResolution =
  | { ok: true; spec: AttestationPolicySpec; referenceValues: ReferenceValue[]; expectedInitDataDigest?: Buffer }
  | { ok: false; code: Extract<AsErrorCode, 'PolicyNotFound' | 'PolicyNotReady' | 'AgentNotFound' | 'AgentPolicyMismatch'>; message: string };

export type PolicyResolver = (id: PolicyId) => PolicyResolution;

/** Indexes a snapshot once; the resolver is then O(1) per request. */
export function policyResolver(snapshot: AsSnapshot): PolicyResolver {
  const policies = new Map(snapshot.policies.map((p) => [`${p.namespace}/${p.name}`, p]));
  const agents = new Map(snapshot.agents.map((a) => [`${a.namespace}/${a.name}`, a]));
  const digests = new Map<string, Buffer>();
  return (id) => {
    const p = policies.get(`${id.namespace}/${id.policy}`);
    if (!p) return { ok: false, code: 'PolicyNotFound', message: `AttestationPolicy ${id.namespace}/${id.policy} does not exist` };
    if (!p.ready) return { ok: false, code: 'PolicyNotReady', message: `AttestationPolicy ${id.namespace}/${id.policy} is not Ready for its current generation` };
    if (id.kind === 'policy') return { ok: true, spec: p.spec, referenceValues: p.referenceValues };
    const key = `${id.namespace}/${id.agent}`;
    const a = agents.get(key);
    if (!a || a.deleting) return { ok: false, code: 'AgentNotFound', message: `ConfidentialAgent ${key} does not exist or is being deleted` };
    if (a.policyName !== id.policy) return { ok: false, code: 'AgentPolicyMismatch', message: `ConfidentialAgent ${key} is gated on AttestationPolicy ${a.policyName}, not ${id.policy}` };
    let digest = digests.get(key);
    if (!digest) {
      digest = agentInitDataDigest({ namespace: a.namespace, name: a.name, uid: a.uid });
      digests.set(key, digest);
    }
    return { ok: true, spec: p.spec, referenceValues: p.referenceValues, expectedInitDataDigest: digest };
  };
}
