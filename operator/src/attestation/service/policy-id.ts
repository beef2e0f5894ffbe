// Policy ids of the operator's attestation service (the `policy_ids` a TNG verifier sends, echoed in each
// EAR submod's `ear.appraisal-policy-id`):
//   `<namespace>/<policy>`          any instance whose evidence satisfies that AttestationPolicy
//   `<namespace>/<policy>/<agent>`  additionally: the evidence names agent <agent>'s instance (its init-data
//                                   digest, see protocol/agent-init-data.ts) and the agent uses <policy>
// Kubernetes names never contain '/', so the form is unambiguous.

export type PolicyId =
  | { kind: 'policy'; namespace: string; policy: string }
  | { kind: 'agent'; namespace: string; policy: string; agent: string };

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const MAX_POLICY_ID_LENGTH = 63 + 1 + 253 + 1 + 253;

export function formatPolicyId(id: PolicyId): string {
  return id.kind === 'policy' ? `${id.namespace}/${id.policy}` : `${id.namespace}/${id.policy}/${id.agent}`;
}

/** The policy-scoped id of an AttestationPolicy. */
export const policyScopedId = (namespace: string, policy: string): string => formatPolicyId({ kind: 'policy', namespace, policy });
/** The agent-scoped id: the gateway of `agent` admits only that agent's instance. */
export const agentScopedId = (namespace: string, policy: string, agent: string): string => formatPolicyId({ kind: 'agent', namespace, policy, agent });

export function parsePolicyId(text: unknown): { ok: true; id: PolicyId } | { ok: false; message: string } {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_POLICY_ID_LENGTH) return { ok: false, message: `a policy id is a string of 1..${MAX_POLICY_ID_LENGTH} characters` };
  const parts = text.split('/');
  if (parts.length !== 2 && parts.length !== 3) return { ok: false, message: 'a policy id is <namespace>/<AttestationPolicy> or <namespace>/<AttestationPolicy>/<ConfidentialAgent>' };
  const [namespace, policy, agent] = parts as [string, string, string | undefined];
  if (namespace.length > 63 || !LABEL.test(namespace)) return { ok: false, message: 'the policy id namespace is not a DNS label' };
  if (policy.length > 253 || !SUBDOMAIN.test(policy)) return { ok: false, message: 'the policy id AttestationPolicy name is not a DNS subdomain' };
  if (agent === undefined) return { ok: true, id: { kind: 'policy', namespace, policy } };
  if (agent.length > 253 || !SUBDOMAIN.test(agent)) return { ok: false, message: 'the policy id ConfidentialAgent name is not a DNS subdomain' };
  return { ok: true, id: { kind: 'agent', namespace, policy, agent } };
}
