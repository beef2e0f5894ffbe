// The operator side of ConfidentialAgent.spec.sandboxPolicy: read the referenced ConfigMap key, check the
// document parses as a sandbox policy and matches the pinned digest, and report what status records.
// A ConfigMap (not a field): the policy is a reviewed, non-secret document (up to 256 KiB here) that many
// agents share and that `cai pep check` tests as a file; the digest (status, pin, AttestationPolicy)
// is what makes a change visible and attested.
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import { parsePolicy, policyDigest, PolicyError } from './policy.ts';

export interface ConfigMapReader {
  readNamespacedConfigMap(args: { name: string; namespace: string }): Promise<{ data?: Record<string, string> }>;
}

export interface ResolvedSandboxPolicy {
  status?: { configMap: string; key: string; digest: string };
  /** Why the policy cannot be used (names the ConfigMap, key and check); never the document's content. */
  error?: string;
  /** The document bytes, to deliver to the guest. */
  bytes?: string;
}

// It travels inside the attested bootstrap push (JWE, base64url), which a guest accepts up to 1 MiB.
const MAX_POLICY_BYTES = 256 * 1024;

export async function resolveAgentSandboxPolicy(core: ConfigMapReader, agent: ConfidentialAgent): Promise<ResolvedSandboxPolicy> {
  const ref = agent.spec.sandboxPolicy;
  if (!ref) return {};
  const namespace = agent.metadata.namespace ?? 'default';
  const where = `ConfigMap ${namespace}/${ref.configMapRef.name} key ${ref.configMapRef.key}`;
  let data: Record<string, string> | undefined;
  try {
    data = (await core.readNamespacedConfigMap({ name: ref.configMapRef.name, namespace })).data;
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === 404) return { error: `${where}: the ConfigMap does not exist` };
    throw err; // transient: the work queue retries
  }
  const text = data?.[ref.configMapRef.key];
  if (text === undefined) return { error: `${where}: the key does not exist` };
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) return { error: `${where}: the policy is larger than 256 KiB (it is delivered in the attested bootstrap push)` };
  try {
    parsePolicy(text);
  } catch (err) {
    if (err instanceof PolicyError) return { error: `${where}: ${err.message}` };
    throw err;
  }
  const digest = policyDigest(text);
  if (ref.digest && ref.digest !== digest) return { error: `${where}: its digest ${digest} is not the pinned spec.sandboxPolicy.digest ${ref.digest}` };
  return { status: { configMap: ref.configMapRef.name, key: ref.configMapRef.key, digest }, bytes: text };
}
