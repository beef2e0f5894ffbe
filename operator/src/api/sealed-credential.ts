// SealedCredential: ciphertext only (sealed to the operator's public certificate), the KBS resource
// path it is delivered at, and which agents may receive it.
import { z } from 'zod';
import { cel, ConditionsSchema, immutable, type KubeObject } from './common.ts';

const KBS_SEGMENT = '[a-zA-Z0-9_\\-]+[a-zA-Z0-9_\\-.]*';
export const RESOURCE_PATH_PATTERN = new RegExp(`^${KBS_SEGMENT}/${KBS_SEGMENT}/${KBS_SEGMENT}$`);

export const SealedCredentialSpecSchema = z.object({
  encryptedData: z
    .string()
    .min(1)
    .max(1_048_576)
    .regex(/^[A-Za-z0-9+/]+={0,2}$/)
    .describe('Sealed envelope (base64), produced by `cai seal`. Only the operator sealing key opens it.'),
  resourcePath: cel(
    z.string().min(5).max(512).regex(RESOURCE_PATH_PATTERN),
    immutable('resourcePath'),
  ).describe('KBS resource path repo/type/tag the guest reads it at, e.g. default/local-resources/openclaw_vllm_config.'),
  scope: cel(
    z.object({
      mode: z
        .enum(['Strict', 'NamespaceWide'])
        .default('Strict')
        .describe('Strict binds the ciphertext to this name and namespace; NamespaceWide to the namespace only.'),
      agents: z
        .array(z.string().min(1).max(253))
        .max(64)
        .default([])
        .describe('ConfidentialAgents that may receive it; empty means any agent in the namespace that references it.'),
    }),
    immutable('scope'),
  ).default({ mode: 'Strict', agents: [] }).describe('Who may receive the credential; bound into the ciphertext.'),
});
export type SealedCredentialSpec = z.infer<typeof SealedCredentialSpecSchema>;

export const SealedCredentialStatusSchema = z.object({
  observedGeneration: z.int().optional().describe('Generation last processed by the operator.'),
  conditions: ConditionsSchema.optional(),
  sealingKeyId: z.string().optional().describe('Fingerprint of the sealing key that opens the ciphertext.'),
  digest: z.string().optional().describe('SHA-256 of the sealed envelope.'),
});
export type SealedCredentialStatus = z.infer<typeof SealedCredentialStatusSchema>;
export type SealedCredential = KubeObject<SealedCredentialSpec, SealedCredentialStatus>;
