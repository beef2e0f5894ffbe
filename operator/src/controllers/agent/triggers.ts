// Why an agent is attested again: named, pure triggers over the last attestation in status and the
// current instance and policy. The first that fires names the reason, which goes into the Event.
import type { ConfidentialAgentStatus } from '../../api/confidential-agent.ts';

export type AttestationRecord = NonNullable<ConfidentialAgentStatus['attestation']>;

export interface TriggerInput {
  /** Attested is True in status. */
  wasAttested: boolean;
  last: AttestationRecord | undefined;
  instanceId: string;
  /** When the instance last booted, as the provider reports it (undefined: the provider does not say). */
  instanceStartedAt?: string | undefined;
  /**
   * KBS mode: credentials recorded as fetched whose sealed value has changed since (rotated). The guest
   * pulls its manifest once per attested bootstrap, so only a new attested bootstrap makes it fetch again.
   */
  rotatedKbsCredentials?: readonly string[];
  policyGeneration: number | undefined;
  /** Digest of the trust material the policy now publishes (reference values); see trustDigestOf. */
  trustDigest: string;
  nowMs: number;
}

export interface Trigger {
  readonly name: 'NeverAttested' | 'InstanceChanged' | 'InstanceRestarted' | 'PolicyChanged' | 'CredentialRotated' | 'TrustMaterialUpdated' | 'IntervalElapsed';
  fires(i: TriggerInput): boolean;
  describe(i: TriggerInput): string;
}

export const TRIGGERS: readonly Trigger[] = [
  { name: 'NeverAttested', fires: (i) => !i.wasAttested || !i.last, describe: () => 'not attested yet' },
  {
    name: 'InstanceChanged',
    fires: (i) => i.last?.instanceId !== i.instanceId,
    describe: (i) => `instance changed from ${i.last?.instanceId ?? 'none'} to ${i.instanceId}`,
  },
  {
    // Same instance id, later boot: the guest lost what it held and its TEE keys; an appraisal of the
    // previous boot says nothing about this one. Only when both boots are known (older records lack it).
    name: 'InstanceRestarted',
    fires: (i) => i.instanceStartedAt !== undefined && i.last?.instanceStartedAt !== undefined && i.last.instanceStartedAt !== i.instanceStartedAt,
    describe: (i) => `instance ${i.instanceId} rebooted (booted ${i.instanceStartedAt ?? '?'}, attested boot ${i.last?.instanceStartedAt ?? '?'})`,
  },
  {
    name: 'PolicyChanged',
    fires: (i) => i.last?.policyGeneration !== i.policyGeneration,
    describe: (i) => `policy generation changed from ${i.last?.policyGeneration ?? 'none'} to ${i.policyGeneration ?? 'none'}`,
  },
  {
    // Collateral, RIM or reference-value updates reach the agent through the policy's published values.
    name: 'TrustMaterialUpdated',
    fires: (i) => i.last?.trustDigest !== undefined && i.last.trustDigest !== i.trustDigest,
    describe: () => 'the policy published new reference values',
  },
  {
    name: 'CredentialRotated',
    fires: (i) => (i.rotatedKbsCredentials?.length ?? 0) > 0,
    describe: (i) => `credential(s) ${(i.rotatedKbsCredentials ?? []).join(', ')} rotated since the guest fetched them from the KBS`,
  },
  {
    name: 'IntervalElapsed',
    fires: (i) => !(Date.parse(i.last?.nextAttestationAt ?? '') > i.nowMs),
    describe: (i) => `re-attestation interval elapsed (due ${i.last?.nextAttestationAt ?? 'now'})`,
  },
];

/** The first trigger that fires, or undefined when the last attestation still holds. */
export function attestationDue(input: TriggerInput, triggers: readonly Trigger[] = TRIGGERS): { trigger: Trigger['name']; message: string } | undefined {
  const t = triggers.find((x) => x.fires(input));
  return t ? { trigger: t.name, message: t.describe(input) } : undefined;
}

/** Whether one named trigger fires, whatever precedes it (e.g. to tell a rebooted guest behind NeverAttested). */
export function firesNamed(name: Trigger['name'], input: TriggerInput, triggers: readonly Trigger[] = TRIGGERS): boolean {
  return triggers.find((t) => t.name === name)?.fires(input) ?? false;
}
