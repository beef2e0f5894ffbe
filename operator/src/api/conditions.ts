// The API's vocabulary: condition types and reasons of every kind, as typed constants, and the one
// definition of "this AttestationPolicy is Ready" that the agent controller and the KBS both use.
// Reasons that come from verifier or provider error codes are open (string); the ones the operator
// itself decides are listed here so a typo is a compile error, not a silent new reason.
import type { Condition } from './common.ts';

/** Condition types of a ConfidentialAgent, in lifecycle order (Ready summarises the others). */
export const AgentCondition = {
  SandboxPolicyReady: 'SandboxPolicyReady',
  Provisioned: 'Provisioned',
  Attested: 'Attested',
  CredentialsReleased: 'CredentialsReleased',
  EndpointReady: 'EndpointReady',
  Ready: 'Ready',
} as const;
export type AgentConditionType = (typeof AgentCondition)[keyof typeof AgentCondition];

export const PolicyCondition = {
  Ready: 'Ready',
  ReferenceValuesResolved: 'ReferenceValuesResolved',
  CollateralAvailable: 'CollateralAvailable',
  SampleTeeAllowed: 'SampleTeeAllowed',
  /** True while a development-only appraisal setting (sample.trustAsAffirming) is in force. */
  DevelopmentOnly: 'DevelopmentOnly',
} as const;
export type PolicyConditionType = (typeof PolicyCondition)[keyof typeof PolicyCondition];

export const CredentialCondition = { Ready: 'Ready' } as const;

/** Reasons the agent controller sets (condition reasons and Event reasons). */
export const AgentReason = {
  // Ready / seeding
  Reconciling: 'Reconciling',
  AgentReady: 'AgentReady',
  // SandboxPolicyReady
  SandboxPolicyResolved: 'SandboxPolicyResolved',
  NoSandboxPolicy: 'NoSandboxPolicy',
  SandboxPolicyInvalid: 'SandboxPolicyInvalid',
  SandboxPolicyChanged: 'SandboxPolicyChanged',
  InitDataUnsupported: 'InitDataUnsupported',
  WaitingForSandboxPolicy: 'WaitingForSandboxPolicy',
  // Provisioned
  InstanceRunning: 'InstanceRunning',
  InstanceStarting: 'InstanceStarting',
  InstanceNotRunning: 'InstanceNotRunning',
  InvalidInstanceSpec: 'InvalidInstanceSpec',
  NoCapacity: 'NoCapacity',
  QuotaExceeded: 'QuotaExceeded',
  CloudAuthFailed: 'CloudAuthFailed',
  ProviderNotConfigured: 'ProviderNotConfigured',
  InstanceCreated: 'InstanceCreated',
  InstanceReplaced: 'InstanceReplaced',
  InstanceDeleted: 'InstanceDeleted',
  // Attested
  WaitingForInstance: 'WaitingForInstance',
  PolicyNotFound: 'PolicyNotFound',
  PolicyNotReady: 'PolicyNotReady',
  /** The policy as the API server has it could not be read, or differs from the cached copy: nothing released. */
  PolicyUnconfirmed: 'PolicyUnconfirmed',
  Affirming: 'Affirming',
  AcceptedByPolicy: 'AcceptedByPolicy',
  AttestationFailed: 'AttestationFailed',
  Attested: 'Attested',
  // CredentialsReleased
  NotAttested: 'NotAttested',
  Delivered: 'Delivered',
  WaitingForGuestFetch: 'WaitingForGuestFetch',
  CredentialNotFound: 'CredentialNotFound',
  NotInScope: 'NotInScope',
  CredentialReleased: 'CredentialReleased',
} as const;
/** Reasons of the EndpointReady condition and its Events (controllers/agent/endpoint.ts). */
export const EndpointReason = {
  /** The gateway config matches the current instance and policy; the Deployment and Service are applied. */
  Serving: 'Serving',
  /** spec.endpoint.enabled is false: no gateway (and any earlier one removed). */
  EndpointDisabled: 'EndpointDisabled',
  /** The instance is not (or no longer) attested: the gateway was scaled to zero (onAttestationFailure: Revoke). */
  Revoked: 'Revoked',
  /** The instance is not attested but onAttestationFailure is Keep: the AS refuses each connection instead. */
  NotAttestedKept: 'NotAttestedKept',
  /** The rendered TNG config failed the operator's own validation (never applied). */
  InvalidGatewayConfig: 'InvalidGatewayConfig',
  /** The operator attestation service has no CA bundle yet (nothing to pin). */
  AttestationServiceNotReady: 'AttestationServiceNotReady',
  /** The instance has no address the gateway can reach. */
  NoInstanceAddress: 'NoInstanceAddress',
  /** Applying the owned objects failed (API server refused or unreachable). */
  ApplyFailed: 'ApplyFailed',
  /** Event: the gateway now forwards to a different instance or under a new policy. */
  GatewayUpdated: 'GatewayUpdated',
  /** Carried by later phases while the endpoint is not ready. */
  WaitingForEndpoint: 'WaitingForEndpoint',
} as const;
export type EndpointReasonType = (typeof EndpointReason)[keyof typeof EndpointReason];

export type AgentReasonType = (typeof AgentReason)[keyof typeof AgentReason];

export const PolicyReason = {
  PolicyReady: 'PolicyReady',
  Resolved: 'Resolved',
  NoReferenceValues: 'NoReferenceValues',
  InvalidPublicKey: 'InvalidPublicKey',
  NoTeeAccepted: 'NoTeeAccepted',
  PccsUnreachable: 'PccsUnreachable',
  PccsReachable: 'PccsReachable',
  DevelopmentSetting: 'DevelopmentSetting',
  HardwareTeeRequired: 'HardwareTeeRequired',
  SampleTrustedAsAffirming: 'SampleTrustedAsAffirming',
  NoDevelopmentSettings: 'NoDevelopmentSettings',
} as const;

export const CredentialReason = { Unsealable: 'Unsealable' } as const;

/** Event actions (events.k8s.io `action`). */
export const EventAction = {
  Provision: 'Provision',
  Attest: 'Attest',
  Release: 'Release',
  Expose: 'Expose',
  Revoke: 'Revoke',
  Delete: 'Delete',
  Validate: 'Validate',
  Reconcile: 'Reconcile',
  ResolveReferenceValues: 'ResolveReferenceValues',
} as const;

interface WithConditions {
  metadata: { generation?: number };
  status?: { conditions?: readonly Condition[]; observedGeneration?: number };
}

/**
 * The policy is Ready for the generation it now has: Ready=True and the status was written for the
 * current spec (an edited policy is not trusted until it has been re-validated). The only definition.
 */
export function isPolicyReady(policy: WithConditions | undefined): boolean {
  if (!policy) return false;
  const ready = policy.status?.conditions?.find((c) => c.type === PolicyCondition.Ready);
  return ready?.status === 'True' && policy.status?.observedGeneration === policy.metadata.generation;
}
