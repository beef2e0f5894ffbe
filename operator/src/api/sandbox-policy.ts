// The agent's tool-sandbox (PEP) policy as the API names it: which document an agent runs under
// (ConfidentialAgent), which digests an AttestationPolicy accepts, and what status reports.
import { z } from 'zod';
import { ConfigMapKeyReferenceSchema } from './common.ts';

export const SANDBOX_POLICY_DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
// Fixed length: the AttestationPolicy spec carries a CEL rule, and strings CEL can reach need a maxLength.
const digest = z.string().length(71).regex(SANDBOX_POLICY_DIGEST_PATTERN, 'sha256:<64 lowercase hex>');

export const AgentSandboxPolicySchema = z
  .object({
    configMapRef: ConfigMapKeyReferenceSchema.describe(
      'ConfigMap key (same namespace) holding the policy document (policies/pep format, or the seed cai-pep format).',
    ),
    digest: digest
      .optional()
      .describe('Pin: sha256 of the document bytes (cai pep digest). When set, a ConfigMap with other bytes is not delivered.'),
  })
  .describe(
    "The tool-sandbox policy the agent's PEP enforces. Delivered to the guest like a credential; its digest is bound into the guest's attested init-data.",
  );

export const AttestationSandboxPolicySchema = z
  .object({
    requiredDigests: z
      .array(digest)
      .min(1)
      .max(16)
      .describe('The guest must report (attested init-data) one of these sandbox-policy digests, else nothing is released.'),
  })
  .describe('Require the agent to run under a known tool-sandbox policy.');

export const SandboxPolicyStatusSchema = z.object({
  configMap: z.string().describe('ConfigMap the policy came from.'),
  key: z.string().describe('Key inside the ConfigMap.'),
  digest: digest.describe('sha256 of the policy document bytes (cai pep digest).'),
});
