// The init-data that names one ConfidentialAgent's instance. A guest launched with it binds it into its
// evidence (TDX: SHA-384 → MRCONFIGID; the simulated guest's sample evidence: `init_data`), so an attestation
// service can tell agent A's instance from agent B's even when both pass the same AttestationPolicy.
// CoCo init-data TOML (algorithm + version + [data]); the digest is SHA-384 over the exact bytes.
import { createHash } from 'node:crypto';

export const AGENT_INIT_DATA_KEY = 'cai.agent';
export const AGENT_UID_INIT_DATA_KEY = 'cai.agent-uid';

export interface AgentRef {
  namespace: string;
  name: string;
  uid: string;
}

const SAFE = /^[A-Za-z0-9._-]{1,253}$/;

/** The init-data TOML of `agent`'s instance. Names and UIDs are Kubernetes-validated; anything else is refused. */
export function agentInitData(agent: AgentRef): string {
  for (const v of [agent.namespace, agent.name, agent.uid]) if (!SAFE.test(v)) throw new TypeError('agent namespace, name and uid must be Kubernetes names');
  return `algorithm = "sha384"\nversion = "0.1.0"\n\n[data]\n"${AGENT_INIT_DATA_KEY}" = "${agent.namespace}/${agent.name}"\n"${AGENT_UID_INIT_DATA_KEY}" = "${agent.uid}"\n`;
}

/** SHA-384 of agentInitData(agent): what the instance's evidence must carry (48 bytes). */
export function agentInitDataDigest(agent: AgentRef): Buffer {
  return createHash('sha384').update(agentInitData(agent), 'utf8').digest();
}
