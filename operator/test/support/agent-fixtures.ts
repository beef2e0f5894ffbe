// Builders for ConfidentialAgent / AttestationPolicy / SealedCredential objects as the informers hold them,
// and a PhaseContext for calling one phase directly.
import { pino } from 'pino';
import { AttestationPolicySpecSchema, type AttestationPolicy } from '../../src/api/attestation-policy.ts';
import { API_VERSION } from '../../src/api/common.ts';
import { ConfidentialAgentSpecSchema, type ConfidentialAgent } from '../../src/api/confidential-agent.ts';
import type { SealedCredential } from '../../src/api/sealed-credential.ts';
import type { AgentFacts, PhaseContext } from '../../src/controllers/agent/phase.ts';
import { seal } from '../../src/release/sealing/envelope.ts';
import type { SealingKeyring } from '../../src/release/sealing/keyring.ts';
import { ManualClock } from './manual-clock.ts';

export const NS = 'agents';
export const T0 = Date.parse('2026-01-01T00:00:00Z');

export function agent(name: string, spec: Record<string, unknown> = {}, extra: Partial<ConfidentialAgent> = {}): ConfidentialAgent {
  return {
    apiVersion: API_VERSION,
    kind: 'ConfidentialAgent',
    metadata: { name, namespace: NS, uid: `uid-${name}`, generation: 1, resourceVersion: '1' },
    spec: ConfidentialAgentSpecSchema.parse({ instance: { local: { bootDelaySeconds: 0 } }, attestationPolicyRef: { name: 'dev' }, ...spec }),
    ...extra,
  };
}

/** A policy that is Ready for its current generation (as the policy reconciler leaves it). */
export function readyPolicy(name = 'dev', spec: Record<string, unknown> = { allowSampleTee: true, minimumStatus: 'warning' }, generation = 1): AttestationPolicy {
  return {
    apiVersion: API_VERSION,
    kind: 'AttestationPolicy',
    metadata: { name, namespace: NS, generation, uid: `uid-policy-${name}` },
    spec: AttestationPolicySpecSchema.parse(spec),
    status: {
      observedGeneration: generation,
      conditions: [{ type: 'Ready', status: 'True', reason: 'PolicyReady', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: generation }],
    },
  };
}

export function sealedCredential(keyring: SealingKeyring, name: string, resourcePath: string, value: string, agents: string[] = []): SealedCredential {
  const scope = { mode: 'Strict' as const, agents };
  return {
    apiVersion: API_VERSION,
    kind: 'SealedCredential',
    metadata: { name, namespace: NS, generation: 1 },
    spec: { encryptedData: seal(keyring.certificatePem, Buffer.from(value), { namespace: NS, name, ...scope, resourcePath }), resourcePath, scope },
  };
}

export function phaseContext(facts: AgentFacts = {}, clock = new ManualClock(T0)): PhaseContext {
  return { logger: pino({ level: 'silent' }), signal: new AbortController().signal, clock, now: new Date(clock.now()), facts };
}
