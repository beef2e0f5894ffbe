// Attested + CredentialsReleased steps for one agent. Every push is a fresh attestation (operator
// nonce, TEE key generated for that session and bound into the evidence), exactly as the original
// deployment's challenge client does; in KBS mode the guest is told where the KBS is (by the same
// attested push) and pulls its credentials itself, and the KBS reports what it released.
import { createHash } from 'node:crypto';
import type { AttestationPolicy } from '../../api/attestation-policy.ts';
import type { ConfidentialAgent, ConfidentialAgentStatus } from '../../api/confidential-agent.ts';
import type { SealedCredential } from '../../api/sealed-credential.ts';
import type { EarSigner } from '../../attestation/policy/ear.ts';
import type { VerifierRegistry } from '../../attestation/registry.ts';
import type { InstanceInfo } from '../../cloud/provider.ts';
import { BOOTSTRAP_RESOURCE } from '../../cloud/local/guest/guest.ts';
import { challengeVerifier, injectResource, type InjectResult } from '../../release/challenge.ts';
import { unseal } from '../../release/sealing/envelope.ts';
import type { SealingKeyring } from '../../release/sealing/keyring.ts';
import { sealScopeOf } from '../../release/sealing/status.ts';
import type { SharedInformer } from '../../runtime/manager.ts';
import type { ReleaseOutcome, ReleaseStep } from './controller.ts';
import type { ConditionInput } from './ready.ts';

type Delivery = NonNullable<ConfidentialAgentStatus['credentials']>[number];
interface Released {
  condition: ConditionInput;
  deliveries: Delivery[];
  newlyDelivered: Delivery[];
  retryMs: number;
}

/** What the KBS released, per agent (`namespace/name`), reported by the KBS server's events. */
export interface KbsDeliveries {
  publicUrl: string;
  /** PEM the guest must trust the KBS with (HTTPS); sent as kbs_cert in the attested bootstrap push. */
  kbsCert?(): string | undefined;
  delivered(agentKey: string): Map<string, { resourcePath: string; at: string }>;
  forget(agentKey: string): void;
}

export interface ReleaseStepDeps {
  policies: SharedInformer<AttestationPolicy>;
  credentials: SharedInformer<SealedCredential>;
  keyring: () => SealingKeyring;
  registry: VerifierRegistry;
  signer: EarSigner;
  kbs?: KbsDeliveries;
  now?: () => Date;
  /** Per-injection transport retries (the work queue retries whole reconciles on top). */
  injectRetry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
}

const RETRY_AFTER_FAILURE_MS = 30_000;
const KBS_POLL_MS = 1_000;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const agentKey = (a: ConfidentialAgent) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`;

export function createReleaseStep(deps: ReleaseStepDeps): ReleaseStep {
  const now = deps.now ?? (() => new Date());
  return {
    forget: (agent) => deps.kbs?.forget(agentKey(agent)),
    async run(agent, instance, logger) {
      const at = now();
      const ns = agent.metadata.namespace;
      const policy = deps.policies.get(ns, agent.spec.attestationPolicyRef.name);
      const notAttested = (reason: string, message: string, requeueAfterMs = RETRY_AFTER_FAILURE_MS): ReleaseOutcome => ({
        conditions: [
          { type: 'Attested', status: 'False', reason, message },
          { type: 'CredentialsReleased', status: 'False', reason: 'NotAttested', message: 'credentials are released only to an attested instance' },
        ],
        requeueAfterMs,
      });
      if (!policy) return notAttested('PolicyNotFound', `AttestationPolicy ${agent.spec.attestationPolicyRef.name} does not exist in ${ns ?? ''}`);
      const policyReady = policy.status?.conditions?.find((c) => c.type === 'Ready');
      if (policyReady?.status !== 'True' || policy.status?.observedGeneration !== policy.metadata.generation) {
        return notAttested('PolicyNotReady', `AttestationPolicy ${policy.metadata.name} is not ready: ${policyReady?.message ?? 'not reconciled yet'}`, 2_000);
      }

      const port = agent.spec.delivery.guestApiPort;
      const baseUrl = `http://${(instance.address ?? '').replace(/:\d+$/, '')}:${instance.ports?.[port] ?? port}`;
      const verify = challengeVerifier({
        registry: deps.registry,
        policy: policy.spec,
        policyId: `${policy.metadata.namespace ?? ''}/${policy.metadata.name}`,
        referenceValues: policy.status?.referenceValues ?? [],
        signer: deps.signer,
        now,
      });
      const tee = teeOf(agent);
      const push = (resourcePath: string, plaintext: Uint8Array) =>
        injectResource({ baseUrl, resourcePath, plaintext, tee, verify, ...(deps.injectRetry ? { retry: deps.injectRetry } : {}) });

      const last = agent.status?.attestation;
      const wasAttested = agent.status?.conditions?.some((c) => c.type === 'Attested' && c.status === 'True') ?? false;
      const due =
        !wasAttested ||
        !last ||
        last.instanceId !== instance.id ||
        last.policyGeneration !== policy.metadata.generation ||
        Date.parse(last.nextAttestationAt ?? '') <= at.getTime();

      const mode = agent.spec.delivery.mode;
      const events: NonNullable<ReleaseOutcome['events']> = [];
      let attestation = last;
      if (due) {
        const kbsCert = deps.kbs?.kbsCert?.();
        const bootstrap = mode === 'KBS' && deps.kbs ? { mode: 'kbs', kbs_url: deps.kbs.publicUrl, ...(kbsCert ? { kbs_cert: kbsCert } : {}) } : { mode: 'challenge' };
        const result = await push(BOOTSTRAP_RESOURCE, Buffer.from(JSON.stringify(bootstrap)));
        if (!result.ok) {
          const reason = result.verification?.code ?? result.code;
          events.push({ type: 'Warning', reason: 'AttestationFailed', action: 'Attest', note: `${reason}: ${result.verification?.message ?? result.message}` });
          logger.warn({ reason, agent: agentKey(agent) }, 'attestation failed; nothing released');
          return { ...notAttested(reason, result.verification?.message ?? result.message), events };
        }
        attestation = attestationStatus(result, instance, policy, at);
        if (result.appraisal.sampleTee) logger.warn({ agent: agentKey(agent) }, 'agent attested with the sample TEE: no hardware protection (development policy)');
      }
      const attested: ConditionInput = {
        type: 'Attested',
        status: 'True',
        reason: attestation?.status === 'affirming' ? 'Affirming' : 'AcceptedByPolicy',
        message: `${attestation?.teeType ?? tee} evidence appraised ${attestation?.status ?? '?'} at ${attestation?.verifiedAt ?? '?'} (policy ${policy.metadata.name}, minimum ${policy.spec.minimumStatus})`,
      };
      const nextDue = Math.max(1_000, Date.parse(attestation?.nextAttestationAt ?? '') - at.getTime());
      const released = mode === 'KBS' && deps.kbs ? trackKbs(agent, deps.kbs) : await pushCredentials(agent, push, events);
      // One Event per reconcile for what happened (API writes are the operator's scarcest resource).
      const delivered = released.newlyDelivered.map((d) => `${d.name} (sha256 ${d.digest.slice(0, 12)})`);
      if (due || delivered.length) {
        const attestedNote = due ? `${attestation?.teeType ?? tee} evidence appraised ${attestation?.status ?? '?'} under ${policy.metadata.name}` : '';
        const releasedNote = delivered.length ? `delivered ${delivered.join(', ')}` : '';
        events.unshift({
          type: 'Normal',
          reason: due && delivered.length ? 'AttestedAndReleased' : due ? 'Attested' : 'CredentialReleased',
          action: delivered.length ? 'Release' : 'Attest',
          note: [attestedNote, releasedNote].filter(Boolean).join('; '),
        });
      }
      return {
        conditions: [attested, released.condition],
        ...(attestation ? { attestation } : {}),
        credentials: released.deliveries,
        events,
        requeueAfterMs: released.condition.status === 'True' ? nextDue : Math.min(nextDue, released.retryMs),
      };
    },
  };

  async function pushCredentials(
    agent: ConfidentialAgent,
    push: (path: string, plaintext: Uint8Array) => Promise<InjectResult>,
    events: NonNullable<ReleaseOutcome['events']>,
  ): Promise<Released> {
    const previous = new Map((agent.status?.credentials ?? []).map((d) => [d.name, d]));
    const deliveries: Delivery[] = [];
    const newlyDelivered: Delivery[] = [];
    const problems: Array<{ reason: string; message: string }> = [];
    for (const ref of agent.spec.credentials) {
      const cred = deps.credentials.get(agent.metadata.namespace, ref.name);
      if (!cred) {
        problems.push({ reason: 'CredentialNotFound', message: `SealedCredential ${ref.name} does not exist` });
        continue;
      }
      const digest = sha256(cred.spec.encryptedData);
      const done = previous.get(ref.name);
      if (done && done.digest === digest && done.mode === 'Challenge') {
        deliveries.push(done);
        continue;
      }
      if (cred.spec.scope.agents.length > 0 && !cred.spec.scope.agents.includes(agent.metadata.name)) {
        problems.push({ reason: 'NotInScope', message: `SealedCredential ${ref.name} is not sealed for agent ${agent.metadata.name}` });
        continue;
      }
      const opened = unseal(cred.spec.encryptedData, deps.keyring(), sealScopeOf(cred));
      if (!opened.ok) {
        problems.push({ reason: opened.code, message: `SealedCredential ${ref.name}: ${opened.message}` });
        continue;
      }
      const result = await push(cred.spec.resourcePath, opened.plaintext);
      opened.plaintext.fill(0);
      if (!result.ok) {
        problems.push({ reason: result.verification?.code ?? result.code, message: `${ref.name}: ${result.verification?.message ?? result.message}` });
        continue;
      }
      const delivery = { name: ref.name, resourcePath: cred.spec.resourcePath, mode: 'Challenge' as const, digest, deliveredAt: now().toISOString() };
      deliveries.push(delivery);
      newlyDelivered.push(delivery);
    }
    for (const p of problems) events.push({ type: 'Warning', reason: p.reason, action: 'Release', note: p.message });
    const first = problems[0];
    const condition: ConditionInput = first
      ? { type: 'CredentialsReleased', status: 'False', reason: first.reason, message: problems.map((p) => p.message).join('; ') }
      : { type: 'CredentialsReleased', status: 'True', reason: 'Delivered', message: `${deliveries.length} credential(s) delivered by challenge` };
    return { condition, deliveries, newlyDelivered, retryMs: RETRY_AFTER_FAILURE_MS };
  }

  function trackKbs(agent: ConfidentialAgent, kbs: KbsDeliveries): Released {
    const released = kbs.delivered(agentKey(agent));
    const before = new Set((agent.status?.credentials ?? []).filter((d) => d.mode === 'KBS').map((d) => `${d.name}@${d.deliveredAt}`));
    const deliveries: Delivery[] = [];
    const waiting: string[] = [];
    for (const ref of agent.spec.credentials) {
      const cred = deps.credentials.get(agent.metadata.namespace, ref.name);
      const got = released.get(ref.name);
      if (cred && got) deliveries.push({ name: ref.name, resourcePath: got.resourcePath, mode: 'KBS', digest: sha256(cred.spec.encryptedData), deliveredAt: got.at });
      else waiting.push(ref.name);
    }
    const condition: ConditionInput = waiting.length
      ? { type: 'CredentialsReleased', status: 'False', reason: 'WaitingForGuestFetch', message: `waiting for the guest to fetch ${waiting.join(', ')} from the KBS` }
      : { type: 'CredentialsReleased', status: 'True', reason: 'Delivered', message: `${deliveries.length} credential(s) fetched by the guest from the KBS` };
    return { condition, deliveries, newlyDelivered: deliveries.filter((d) => !before.has(`${d.name}@${d.deliveredAt}`)), retryMs: KBS_POLL_MS };
  }
}

function teeOf(agent: ConfidentialAgent): string {
  return agent.spec.instance.alibaba ? 'tdx' : 'sample';
}

function attestationStatus(result: Extract<InjectResult, { ok: true }>, instance: InstanceInfo, policy: AttestationPolicy, at: Date): NonNullable<ConfidentialAgentStatus['attestation']> {
  const status = result.appraisal.status === 'none' ? 'contraindicated' : result.appraisal.status;
  return {
    instanceId: instance.id,
    teeType: result.appraisal.submods.find((s) => s.teeClass === 'cpu')?.tee ?? 'unknown',
    status,
    verifiedAt: at.toISOString(),
    nextAttestationAt: new Date(at.getTime() + policy.spec.reattestIntervalSeconds * 1000).toISOString(),
    ...(result.ear ? { tokenDigest: sha256(result.ear) } : {}),
    ...(policy.metadata.generation !== undefined ? { policyGeneration: policy.metadata.generation } : {}),
  };
}
