// AttestationPolicy: what evidence is acceptable before credentials are released.
import { z } from 'zod';
import { TCB_STATUSES } from './enums.ts';
import { cel, ConditionsSchema, ConfigMapKeyReferenceSchema, type KubeObject } from './common.ts';
import { AttestationSandboxPolicySchema } from './sandbox-policy.ts';

const hex = (bytes: number) => z.string().length(bytes * 2).regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`));
const sha384List = (what: string) => z.array(hex(48)).max(64).optional().describe(`Accepted ${what} values (hex SHA-384).`);

// Intel's TCB status names, as the TDX verifier reports them (one list for both).
export const TcbStatusSchema = z.enum(TCB_STATUSES);

export const InlineReferenceValuesSchema = z
  .object({
    mrtd: sha384List('MRTD'),
    rtmr0: sha384List('RTMR0'),
    rtmr1: sha384List('RTMR1'),
    rtmr2: sha384List('RTMR2'),
    rtmr3: sha384List('RTMR3'),
    ukiSha384: sha384List('UKI Authenticode digest (measurement.uki.SHA-384)'),
  })
  .describe('Reference values written into the policy (development; prefer a Rekor source).');

const SignedSourceFields = {
  publicKey: z.string().min(1).max(8192).describe('PEM public key (P-256) that must have signed the reference-value statement.'),
  artifactId: z.string().min(1).max(253).describe('Artifact id the statement must name (e.g. cai-openclaw-vllm).'),
  allowedVersions: z.array(z.string().min(1).max(128)).min(1).max(64).describe('Artifact versions accepted.'),
};

export const RekorSourceSchema = z
  .object({
    url: z.string().url().max(2048).default('https://rekor.sigstore.dev').describe('Rekor v1 API base URL (must be under the operator flag --allowed-rekor-urls).'),
    trustedRootRef: ConfigMapKeyReferenceSchema.optional().describe(
      'ConfigMap key holding a Sigstore trusted_root.json with the log key; the public-good root is used when omitted.',
    ),
    ...SignedSourceFields,
    statementsConfigMapRef: z
      .object({ name: z.string().min(1).max(253).describe('Name of a ConfigMap in the policy namespace.') })
      .optional()
      .describe(
        'Statements for log entries that do not store them (cosign v3: dsse from attest-blob, hashedrekord from sign-blob): each value a cosign bundle (.sigstore.json), a DSSE envelope or the signed statement file. Only bytes whose hash the log entry records are used.',
      ),
    refreshIntervalSeconds: z.int().min(60).max(86400).default(3600).describe('How often the log is re-read.'),
  })
  .describe('Resolve reference values from signed statements in a Rekor transparency log.');

export const BundleSourceSchema = z
  .object({
    configMapRef: ConfigMapKeyReferenceSchema.describe('ConfigMap key holding a Sigstore bundle (.sigstore.json).'),
    trustedRootRef: ConfigMapKeyReferenceSchema.optional().describe('ConfigMap key holding trusted_root.json.'),
    ...SignedSourceFields,
  })
  .describe('Air-gapped: verify a Sigstore bundle stored in a ConfigMap instead of querying a log.');

export const ReferenceValuesSchema = cel(
  z.object({
    inline: InlineReferenceValuesSchema.optional(),
    rekor: RekorSourceSchema.optional(),
    bundle: BundleSourceSchema.optional(),
  }),
  { rule: '[has(self.inline), has(self.rekor), has(self.bundle)].filter(x, x).size() <= 1', message: 'at most one of inline, rekor or bundle may be set' },
).describe('Where the accepted TDX measurements come from.');

export const TdxPolicySchema = z
  .object({
    referenceValues: ReferenceValuesSchema.optional(),
    acceptedTcbStatuses: z
      .array(TcbStatusSchema)
      .min(1)
      .max(7)
      .default(['UpToDate'])
      .describe('TCB statuses that appraise as affirming; others are contraindicated. Debug TDs are always rejected.'),
    pccsUrl: z
      .string()
      .url()
      .max(2048)
      .default('https://api.trustedservices.intel.com/tdx/certification/v4')
      .describe('PCCS/PCS v4 base URL for TCB info, QE identity and CRLs (Intel PCS, Alibaba regional PCCS, or private).'),
    requireEventLog: z.boolean().default(true).describe('Require a CC event log that replays to the quote RTMRs.'),
  })
  .describe('Intel TDX evidence requirements.');

export const GpuPolicySchema = z
  .object({
    required: z.boolean().default(false).describe('Require NVIDIA GPU evidence for every device (gn8v-tee).'),
    rimServiceUrl: z
      .string()
      .url()
      .max(2048)
      .default('https://rim.attestation.nvidia.com/v1/rim/')
      .describe('NVIDIA RIM service base URL.'),
    rimConfigMapRef: z
      .object({ name: z.string().min(1).max(253).describe("Name of the ConfigMap in the operator's namespace.") })
      .optional()
      .describe(
        "Offline RIMs: a ConfigMap in the operator's namespace (trust material stays with the operator's admins) whose keys are RIM ids and values are RIM XML.",
      ),
    ocsp: z.enum(['Require', 'Prefer', 'Skip']).default('Prefer').describe('OCSP checking of the device and RIM chains.'),
    ocspUrl: z.string().url().max(2048).default('https://ocsp.ndis.nvidia.com/').describe('NVIDIA OCSP responder URL.'),
    allowedDriverVersions: z.array(z.string().max(64)).max(64).optional().describe('Accepted driver versions; any when omitted.'),
    allowedVbiosVersions: z.array(z.string().max(64)).max(64).optional().describe('Accepted VBIOS versions; any when omitted.'),
  })
  .describe('NVIDIA confidential-computing GPU evidence requirements.');

export const SampleAppraisalSchema = z
  .object({
    trustAsAffirming: z
      .boolean()
      .default(false)
      .describe(
        'Appraise verified sample evidence as affirming (hardware genuine, boot approved) instead of at best warning, so a local guest can pass a TNG gateway, which admits affirming only. Development only: sets the DevelopmentOnly condition; requires allowSampleTee.',
      ),
  })
  .describe('How sample-TEE evidence is appraised (development only).');

export const AttestationPolicySpecSchema = cel(
  z.object({
    allowSampleTee: z
      .boolean()
      .default(false)
      .describe('Accept the sample TEE (no hardware, no security). Development only; reported in status and logged as a warning.'),
    sample: SampleAppraisalSchema.optional(),
    tdx: TdxPolicySchema.optional(),
    gpu: GpuPolicySchema.optional(),
    minimumStatus: z
      .enum(['affirming', 'warning'])
      .default('affirming')
      .describe('Worst EAR status that still releases credentials.'),
    reattestIntervalSeconds: z.int().min(30).max(604800).default(3600).describe('How often attested agents are re-attested.'),
    sandboxPolicy: AttestationSandboxPolicySchema.optional(),
  }),
  { rule: '!has(self.sample) || !self.sample.trustAsAffirming || self.allowSampleTee', message: 'sample.trustAsAffirming requires allowSampleTee: true' },
);
export type AttestationPolicySpec = z.infer<typeof AttestationPolicySpecSchema>;

export const ResolvedReferenceValueSchema = z.object({
  name: z.string().describe('Measurement name, e.g. measurement.uki.SHA-384.'),
  digest: z.string().describe('Hex digest accepted.'),
  version: z.string().optional().describe('Artifact version it was published for.'),
  logIndex: z.int().optional().describe('Rekor log index of the statement.'),
});

export const CheckpointSchema = z.object({
  origin: z.string().describe('Log origin (checkpoint first line).'),
  treeSize: z.int().describe('Tree size of the last verified checkpoint.'),
  rootHash: z.string().describe('Base64 root hash of the last verified checkpoint.'),
});

export const ReferenceValuesSourceSchema = z.enum(['inline', 'rekor', 'bundle', 'none']);

export const AttestationPolicyStatusSchema = z.object({
  observedGeneration: z.int().optional().describe('Generation last processed by the operator.'),
  conditions: ConditionsSchema.optional(),
  referenceValuesSource: ReferenceValuesSourceSchema.optional().describe(
    'Which spec.tdx.referenceValues source the values in force came from (none: no TDX reference values configured).',
  ),
  referenceValues: z.array(ResolvedReferenceValueSchema).max(256).optional().describe('Reference values in force.'),
  checkpoint: CheckpointSchema.optional().describe('Last verified transparency-log checkpoint (consistency is proven from it).'),
  lastResolvedAt: z.string().optional().describe('When reference values were last resolved (RFC 3339).'),
});
export type AttestationPolicyStatus = z.infer<typeof AttestationPolicyStatusSchema>;
export type AttestationPolicy = KubeObject<AttestationPolicySpec, AttestationPolicyStatus>;
