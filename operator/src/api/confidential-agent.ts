// ConfidentialAgent: "run this agent in a TEE instance, gate it on this AttestationPolicy, give it these
// SealedCredentials once attested".
import { z } from 'zod';
import { DELIVERY_MODES, EAR_STATUSES, PROVIDER_NAMES } from './enums.ts';
import { cel, ConditionsSchema, immutable, LocalObjectReferenceSchema, type KubeObject } from './common.ts';
import { AgentSandboxPolicySchema, SANDBOX_POLICY_DIGEST_PATTERN, SandboxPolicyStatusSchema } from './sandbox-policy.ts';

export const LocalInstanceSchema = z
  .object({
    bootDelaySeconds: z
      .int()
      .min(0)
      .max(600)
      .default(0)
      .describe('Simulated boot time of the local instance before it reports Running (seconds).'),
  })
  .describe('Run the instance as a simulated TEE guest on the operator machine (sample TEE; development only).');

export const SystemDiskSchema = z.object({
  category: z
    .enum(['cloud_essd', 'cloud_essd_entry', 'cloud_auto'])
    .default('cloud_essd')
    .describe('System disk category.'),
  sizeGiB: z.int().min(20).max(32768).default(200).describe('System disk size in GiB.'),
});

export const AlibabaInstanceSchema = z
  .object({
    regionId: z.string().min(1).max(64).default('cn-beijing').describe('Alibaba Cloud region, e.g. cn-beijing.'),
    zoneId: z.string().min(1).max(64).default('cn-beijing-l').describe('Availability zone, e.g. cn-beijing-l.'),
    instanceType: z
      .string()
      .max(64)
      .regex(/^ecs\.[a-z0-9-]+\.[a-z0-9]+$/)
      .default('ecs.gn8v-tee.4xlarge')
      .describe('ECS instance type; gn8v-tee types have TDX + confidential GPU built in.'),
    imageId: z.string().min(1).max(128).describe('ID of the imported trusted guest image (UEFI, NVMe).'),
    vSwitchId: z.string().min(1).max(128).describe('vSwitch the instance is attached to.'),
    securityGroupId: z.string().min(1).max(128).describe('Security group of the instance.'),
    systemDisk: SystemDiskSchema.default({ category: 'cloud_essd', sizeGiB: 200 }).describe('System disk.'),
    internetMaxBandwidthOut: z
      .int()
      .min(0)
      .max(200)
      .default(0)
      .describe('Outbound public bandwidth in Mbit/s; 0 (default) means no public IP.'),
    privateIpAddress: z.string().max(64).optional().describe('Fixed private IP inside the vSwitch (optional).'),
    confidentialComputingMode: z
      .enum(['Auto', 'TDX', 'None'])
      .default('Auto')
      .describe(
        'Auto sends SecurityOptions.ConfidentialComputingMode=TDX for TDX-capable CPU types and omits it for gn8v-tee (TDX built in).',
      ),
    userData: z.string().max(16384).optional().describe('Plain-text user data passed to the instance (never secrets).'),
  })
  .describe('Run the instance on Alibaba Cloud ECS. Credentials come from the operator environment, never from here.');

export const InstanceSpecSchema = cel(
  z
    .object({
      local: LocalInstanceSchema.optional(),
      alibaba: AlibabaInstanceSchema.optional(),
    })
    .describe('Where the TEE instance runs. Exactly one provider block; immutable (recreate the agent to move it).'),
  { rule: '[has(self.local), has(self.alibaba)].filter(x, x).size() == 1', message: 'exactly one of instance.local or instance.alibaba must be set' },
  immutable('instance'),
);

export const WorkloadSchema = z
  .object({
    profile: z
      .enum(['openclaw', 'openclaw-vllm', 'mcp'])
      .default('openclaw-vllm')
      .describe('Agent profile baked into the guest image; recorded in instance tags.'),
    model: z.string().min(1).max(253).default('Qwen3.6-35B-A3B').describe('Served model name the agent endpoint reports.'),
    port: z.int().min(1).max(65535).default(18789).describe('Agent gateway port on the instance.'),
  })
  .describe('The agent running inside the TEE.');

export const DeliverySchema = z
  .object({
    mode: z
      .enum(DELIVERY_MODES)
      .default('Challenge')
      .describe('Challenge: the operator pushes credentials to the guest (resource injection). KBS: the guest pulls them from the operator KBS.'),
    guestApiPort: z.int().min(1).max(65535).default(8006).describe('Port of the guest trustiflux API (resource injection).'),
  })
  .describe('How credentials reach the guest.');

/** The upstream TNG gateway image (inclavare-containers/TNG release 2.12.0, the version the tests run). */
export const DEFAULT_TNG_IMAGE = 'ghcr.io/inclavare-containers/tng:2.12.0';

export const EndpointSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Expose the agent in-cluster through a TNG gateway (false removes the gateway, its Service and config).'),
    port: z
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe('Service port clients connect to (default: spec.workload.port). The gateway listens on it and tunnels every connection to the instance.'),
    egressPort: z.int().min(1).max(65535).default(41000).describe("Port of the instance's TNG egress (the guest's attested tunnel endpoint in front of the workload)."),
    protocol: z.enum(['HTTP', 'TCP']).default('HTTP').describe('Application protocol behind the tunnel (Service appProtocol; HTTP also exposes /health).'),
    mode: z.enum(['rats-tls', 'ohttp']).default('rats-tls').describe('TNG transport: rats-tls (default; any TCP protocol) or ohttp (HTTP only).'),
    onAttestationFailure: z
      .enum(['Revoke', 'Keep'])
      .default('Revoke')
      .describe(
        'Revoke (default): when the instance stops passing its AttestationPolicy the gateway is scaled to zero. Keep: the gateway stays up and the attestation service refuses each new connection on its own.',
      ),
    image: z.string().min(1).max(512).optional().describe('TNG gateway image override (default: the operator-pinned upstream TNG image).'),
  })
  .describe('In-cluster endpoint: a TNG gateway Deployment + ClusterIP Service named after the agent; every connection is verified against the operator attestation service.');
export type EndpointSpec = z.infer<typeof EndpointSchema>;

export const CredentialReferenceSchema = z.object({
  name: z.string().min(1).max(253).describe('Name of a SealedCredential in the same namespace.'),
});

export const ConfidentialAgentSpecSchema = z.object({
  instance: InstanceSpecSchema,
  workload: WorkloadSchema.default({ profile: 'openclaw-vllm', model: 'Qwen3.6-35B-A3B', port: 18789 }),
  attestationPolicyRef: LocalObjectReferenceSchema.describe('AttestationPolicy the instance evidence must satisfy.'),
  credentials: z
    .array(CredentialReferenceSchema)
    .max(64)
    .default([])
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
    .describe('SealedCredentials released to the instance once attested.'),
  delivery: DeliverySchema.default({ mode: 'Challenge', guestApiPort: 8006 }),
  sandboxPolicy: AgentSandboxPolicySchema.optional(),
  endpoint: EndpointSchema.default({ enabled: true, egressPort: 41000, protocol: 'HTTP', mode: 'rats-tls', onAttestationFailure: 'Revoke' }),
});
export type ConfidentialAgentSpec = z.infer<typeof ConfidentialAgentSpecSchema>;
export type AlibabaInstanceSpec = z.infer<typeof AlibabaInstanceSchema>;
export type LocalInstanceSpec = z.infer<typeof LocalInstanceSchema>;

export const InstanceStatusSchema = z.object({
  provider: z.enum(PROVIDER_NAMES).describe('Provider that owns the instance.'),
  id: z.string().describe('Provider instance ID.'),
  state: z.string().describe('Provider-reported state (Pending, Starting, Running, Stopping, Stopped).'),
  address: z.string().optional().describe('Address the operator reaches the instance at (private IP or host:port).'),
  zone: z.string().optional().describe('Zone the instance runs in.'),
  createdAt: z.string().optional().describe('When the provider created the instance (RFC 3339).'),
  sandboxPolicyDigest: z
    .string()
    .regex(SANDBOX_POLICY_DIGEST_PATTERN)
    .optional()
    .describe("Sandbox policy digest written into the instance's init-data at creation (what its attested evidence binds and its PEP enforces)."),
});

// What the last appraisal measured and concluded (for `cai status` and auditors): digests, versions, TCB
// status, trust vectors. Only values the verifiers measured or the policy published; never a nonce, token or key.
const hex = (max: number) => z.string().regex(/^[0-9a-f]*$/).max(max);
export const AppraisalSummarySchema = z.object({
  submods: z
    .array(
      z.object({
        name: z.string().max(16).describe('EAR submodule (cpu0, gpu0, ...).'),
        tee: z.string().max(16).describe('TEE type of its evidence.'),
        status: z.string().max(16).describe('EAR status of this submodule.'),
        trustVector: z.record(z.string(), z.int()).describe('AR4SI trust vector (claim → value).'),
      }),
    )
    .max(17)
    .describe('One entry per EAR submodule.'),
  tdx: z
    .object({
      mrTd: hex(96).describe('MRTD (hex).'),
      rtmrs: z.array(hex(96)).max(4).describe('RTMR0..3 (hex).'),
      tcbStatus: z.string().max(64).describe('TCB status from Intel collateral (UpToDate, OutOfDate, ...).'),
      advisoryIds: z.array(z.string().max(32)).max(64).optional().describe('Intel security advisories that apply (INTEL-SA-...).'),
      fmspc: hex(12).optional().describe('FMSPC of the platform.'),
      collateralExpiresAt: z.string().max(40).optional().describe('When the TDX collateral used expires (RFC 3339).'),
      ukiDigest: hex(96).optional().describe('SHA-384 of the booted UKI, from the replayed event log.'),
      referenceValue: z
        .object({
          digest: hex(128).describe('The published digest (hex).'),
          version: z.string().max(128).optional().describe('Artifact version it was published for.'),
          logIndex: z.int().optional().describe('Rekor log index of the statement.'),
        })
        .optional()
        .describe('The reference value (from the policy, e.g. a Rekor entry) the UKI digest matched.'),
    })
    .optional()
    .describe('Intel TDX measurements and TCB of the primary evidence.'),
  gpus: z
    .array(
      z.object({
        arch: z.string().max(32).describe('GPU architecture (HOPPER, BLACKWELL).'),
        driverVersion: z.string().max(32).describe('Driver version the GPU reported.'),
        vbiosVersion: z.string().max(32).describe('VBIOS version the GPU reported.'),
        driverRimId: z.string().max(128).optional().describe('ID of the driver RIM its measurements matched.'),
        vbiosRimId: z.string().max(128).optional().describe('ID of the VBIOS RIM its measurements matched.'),
        rimExpiresAt: z.string().max(40).optional().describe('When the RIMs\' signing chain expires (RFC 3339).'),
      }),
    )
    .max(16)
    .optional()
    .describe('Verified NVIDIA GPUs, with the RIMs their measurements matched.'),
});

export const AttestationStatusSchema = z.object({
  instanceId: z.string().max(256).optional().describe('Instance the evidence came from.'),
  instanceStartedAt: z.string().max(64).optional().describe('When that instance had last booted, as its provider reported (a later boot re-attests: a rebooted guest has new TEE keys and holds nothing).'),
  teeType: z.string().describe('TEE type of the primary evidence (tdx, sample, ...).'),
  status: z.enum(EAR_STATUSES).describe('EAR status of the last appraisal.'),
  verifiedAt: z.string().describe('When the last evidence was verified (RFC 3339).'),
  nextAttestationAt: z.string().optional().describe('When the operator re-attests next (RFC 3339).'),
  tokenDigest: z.string().optional().describe('SHA-256 of the last EAR token issued (the token itself is not stored).'),
  policyGeneration: z.int().optional().describe('Generation of the AttestationPolicy the appraisal used.'),
  trustDigest: z.string().max(64).optional().describe('SHA-256 of the reference values the appraisal used; a change re-attests.'),
  appraisal: AppraisalSummarySchema.optional().describe('What the last appraisal measured: trust vectors, TDX measurements and TCB, GPUs and RIMs.'),
});
export type AppraisalSummary = z.infer<typeof AppraisalSummarySchema>;

export const CredentialDeliveryStatusSchema = z.object({
  name: z.string().describe('SealedCredential name.'),
  resourcePath: z.string().describe('repo/type/tag the credential was delivered at.'),
  mode: z.enum(DELIVERY_MODES).describe('Delivery mode used.'),
  digest: z.string().describe('SHA-256 of the sealed ciphertext delivered (never the value).'),
  deliveredAt: z.string().describe('Delivery time (RFC 3339).'),
});

export const EndpointStatusSchema = z.object({
  serviceName: z.string().max(253).describe('DNS name of the ClusterIP Service (<agent>.<namespace>.svc).'),
  port: z.int().describe('Service port.'),
  protocol: z.string().max(16).describe('Application protocol behind the tunnel.'),
  mode: z.string().max(16).describe('TNG transport (rats-tls or ohttp).'),
  policyId: z.string().max(512).describe('Attestation-service policy id the gateway enforces (<namespace>/<AttestationPolicy name>).'),
  instanceId: z.string().max(256).optional().describe('Instance the gateway forwards to.'),
  configDigest: z.string().max(64).optional().describe('SHA-256 of the gateway TNG config in force.'),
  revoked: z.boolean().optional().describe('True while the gateway is scaled to zero because the instance is not attested.'),
});

export const ConfidentialAgentStatusSchema = z.object({
  observedGeneration: z.int().optional().describe('Generation last processed by the operator.'),
  conditions: ConditionsSchema.optional(),
  instance: InstanceStatusSchema.optional().describe('The TEE instance backing this agent.'),
  attestation: AttestationStatusSchema.optional().describe('Outcome of the last attestation.'),
  credentials: z.array(CredentialDeliveryStatusSchema).max(64).optional().describe('Per-credential delivery record.'),
  sandboxPolicy: SandboxPolicyStatusSchema.optional().describe('The tool-sandbox policy spec.sandboxPolicy names (its current ConfigMap digest).'),
  endpoint: EndpointStatusSchema.optional().describe('The in-cluster TNG endpoint of the agent.'),
});
export type ConfidentialAgentStatus = z.infer<typeof ConfidentialAgentStatusSchema>;
export type ConfidentialAgent = KubeObject<ConfidentialAgentSpec, ConfidentialAgentStatus>;
