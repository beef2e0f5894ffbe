// Attest phase (condition Attested). Every push to the guest is a fresh attestation (operator nonce, TEE
// key generated for that session and bound into the evidence), exactly as the original deployment's
// challenge client does. The phase attests when a named trigger fires (triggers.ts), by pushing the
// bootstrap config (which also tells a KBS-mode guest where the KBS is), and hands the attested guest
// channel to the release phase.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AttestationPolicy } from '../../api/attestation-policy.ts';
import { AgentCondition, AgentReason, EventAction, isPolicyReady } from '../../api/conditions.ts';
import type { ConfidentialAgent } from '../../api/confidential-agent.ts';
import type { SealedCredential } from '../../api/sealed-credential.ts';
import type { EarSigner } from '../../attestation/policy/ear.ts';
import type { VerifierRegistry } from '../../attestation/registry.ts';
import { instanceRecheckMs, providerNameOf } from '../../cloud/provider-set.ts';
import type { InstanceInfo } from '../../cloud/provider.ts';
import { BOOTSTRAP_RESOURCE, bootstrapPayload, type BootstrapConfig } from '../../protocol/bootstrap.ts';
import { challengeVerifier, injectResource, type InjectResult } from '../../release/challenge.ts';
import { httpStatusOf } from '../../runtime/errors.ts';
import type { SharedInformer } from '../../runtime/manager.ts';
import { agentKey, PhaseOrderError, RETRY_AFTER_FAILURE_MS, type Phase, type PhaseResult } from './phase.ts';
import type { KbsDeliveries } from './release.ts';
import { launchedInitData } from './sandbox-policy.ts';
import { attestationDue, firesNamed, type AttestationRecord, type TriggerInput } from './triggers.ts';
import { summarizeAppraisal } from './appraisal-summary.ts';

export interface AttestDeps {
  policies: SharedInformer<AttestationPolicy>;
  registry: VerifierRegistry;
  signer: EarSigner;
  /** How often an attested agent's instance is looked at again for a reboot (default per provider: instanceRecheckMs). */
  instanceRecheckMs?: number;
  /** KBS mode: a credential rotated after the guest fetched it makes the guest fetch again (CredentialRotated). */
  credentials?: SharedInformer<SealedCredential>;
  /** The KBS a KBS-mode guest is told to pull from (absent: the operator runs no KBS). */
  kbs?: Pick<KbsDeliveries, 'publicUrl' | 'kbsCert'>;
  /** Per-injection transport retries (the work queue retries whole reconciles on top). */
  injectRetry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Counts each appraisal of a push (the operator's DomainMetrics; controllers import no metrics library). */
  metrics?: AttestationRecorder;
  /**
   * Reads the policy from the API server (a quorum GET), not the cache. After a watch outage the cache can
   * trail the API server by the informer's reconnect backoff (up to 30 s); a release decision must not rest
   * on a policy already revoked there (e.g. LogInconsistent). Absent: the cached copy is trusted (unit tests).
   */
  readPolicy?: (namespace: string, name: string) => Promise<AttestationPolicy | undefined>;
}

export interface AttestationRecorder {
  attestation(tee: string, result: 'pass' | 'fail', reason?: string): void;
}

const POLICY_NOT_READY_RETRY_MS = 2_000;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Digest of the trust material a policy publishes (its resolved reference values). */
export function trustDigestOf(policy: AttestationPolicy): string {
  return sha256(canonicalize(policy.status?.referenceValues ?? []) ?? '[]');
}

export function attestPhase(deps: AttestDeps): Phase {
  return {
    name: 'attest',
    condition: AgentCondition.Attested,
    blocks: { reason: AgentReason.NotAttested, message: 'credentials are released only to an attested instance' },
    async reconcile(agent, ctx) {
      const instance = ctx.facts.instance;
      if (!instance) throw new PhaseOrderError('attest', 'running instance');
      const ns = agent.metadata.namespace;
      const policy = deps.policies.get(ns, agent.spec.attestationPolicyRef.name);
      const refused = (reason: string, message: string, requeueAfterMs = RETRY_AFTER_FAILURE_MS): PhaseResult => ({ condition: { status: 'False', reason, message }, requeueAfterMs });
      if (!policy) return refused(AgentReason.PolicyNotFound, `AttestationPolicy ${agent.spec.attestationPolicyRef.name} does not exist in ${ns ?? ''}`);
      if (!isPolicyReady(policy)) {
        const ready = policy.status?.conditions?.find((c) => c.type === 'Ready');
        return refused(AgentReason.PolicyNotReady, `AttestationPolicy ${policy.metadata.name} is not ready: ${ready?.message ?? 'not reconciled yet'}`, POLICY_NOT_READY_RETRY_MS);
      }

      const tee = teeOf(agent, instance);
      // The evidence must bind the init-data this instance launched with (provision wrote it at creation).
      const initData = launchedInitData(agent);
      const push = guestChannel(deps, agent, instance, policy, tee, initData, ctx.signal, () => ctx.now);
      const last = agent.status?.attestation;
      const trustDigest = trustDigestOf(policy);
      const input: TriggerInput = {
        wasAttested: agent.status?.conditions?.some((c) => c.type === AgentCondition.Attested && c.status === 'True') ?? false,
        last,
        instanceId: instance.id,
        instanceStartedAt: instance.startedAt,
        rotatedKbsCredentials: rotatedKbsCredentials(agent, deps),
        policyGeneration: policy.metadata.generation,
        trustDigest,
        nowMs: ctx.now.getTime(),
      };
      const due = attestationDue(input);
      // Whether deliveries recorded before this attestation still say what the guest holds is decided apart
      // from which trigger named the attestation: after a failed attempt NeverAttested comes first, yet the
      // guest may have rebooted (holds nothing) or a KBS credential been rotated meanwhile.
      const deliveriesStale = last?.instanceId !== instance.id || firesNamed('InstanceRestarted', input) || firesNamed('CredentialRotated', input);

      const events: NonNullable<PhaseResult['events']> = [];
      let attestation = last;
      if (due) {
        const kbsCert = deps.kbs?.kbsCert?.();
        // The sandbox policy rides in the same attested push (both modes): only to a guest whose evidence
        // just bound the init-data naming its digest (the sandbox-policy phase refuses any other pairing).
        const sandbox = ctx.facts.sandboxPolicy;
        const policyDoc = sandbox && sandbox.digest === agent.status?.instance?.sandboxPolicyDigest ? { sandbox_policy: sandbox.document } : {};
        const bootstrap: BootstrapConfig = {
          ...(agent.spec.delivery.mode === 'KBS' && deps.kbs ? { mode: 'kbs' as const, kbs_url: deps.kbs.publicUrl, ...(kbsCert ? { kbs_cert: kbsCert } : {}) } : { mode: 'challenge' as const }),
          ...policyDoc,
        };
        const result = await push(BOOTSTRAP_RESOURCE, bootstrapPayload(bootstrap));
        if (!result.ok) {
          const reason = result.verification?.code ?? result.code;
          const message = result.verification?.message ?? result.message;
          ctx.logger.warn({ reason, trigger: due.trigger, agent: agentKey(agent) }, 'attestation failed; nothing released');
          return { ...refused(reason, message, reason === AgentReason.PolicyUnconfirmed ? POLICY_NOT_READY_RETRY_MS : RETRY_AFTER_FAILURE_MS), events: [{ type: 'Warning', reason: AgentReason.AttestationFailed, action: EventAction.Attest, note: `${reason}: ${message}` }] };
        }
        attestation = attestationRecord(result, instance, policy, trustDigest, ctx.now);
        if (result.appraisal.sampleTee) ctx.logger.warn({ agent: agentKey(agent) }, 'agent attested with the sample TEE: no hardware protection (development policy)');
        events.push({
          type: 'Normal',
          reason: AgentReason.Attested,
          action: EventAction.Attest,
          note: `${due.trigger}: ${due.message}; ${attestation.teeType} evidence appraised ${attestation.status} under ${policy.metadata.name}`,
        });
      }
      // Re-check the instance (provision describes it on every reconcile) at least every recheck interval,
      // so a reboot under the same id is noticed long before the re-attestation interval.
      const nextDue = Math.min(untilRecheck(deps.instanceRecheckMs ?? instanceRecheckMs(providerNameOf(agent)), ctx.now.getTime()), Math.max(1_000, Date.parse(attestation?.nextAttestationAt ?? '') - ctx.now.getTime()));
      return {
        condition: {
          status: 'True',
          reason: attestation?.status === 'affirming' ? AgentReason.Affirming : AgentReason.AcceptedByPolicy,
          message: `${attestation?.teeType ?? tee} evidence appraised ${attestation?.status ?? '?'} at ${attestation?.verifiedAt ?? '?'} (policy ${policy.metadata.name}, minimum ${policy.spec.minimumStatus})`,
        },
        ...(attestation ? { status: { attestation } } : {}),
        events,
        requeueAfterMs: Number.isFinite(nextDue) ? nextDue : RETRY_AFTER_FAILURE_MS,
        // A new instance, a rebooted guest, or a KBS guest told to fetch again: deliveries recorded before
        // this attestation no longer say what the guest holds.
        facts: { guest: { push, ...(due ? { attestedBecause: due.trigger, newInstance: deliveriesStale } : {}) } },
      };
    },
  };
}

/** Pushes one resource to the guest's injection API, verifying fresh evidence under the policy first. */
function guestChannel(deps: AttestDeps, agent: ConfidentialAgent, instance: InstanceInfo, policy: AttestationPolicy, tee: string, initData: string | undefined, signal: AbortSignal, now: () => Date) {
  const port = agent.spec.delivery.guestApiPort;
  const baseUrl = `http://${(instance.address ?? '').replace(/:\d+$/, '')}:${instance.ports?.[port] ?? port}`;
  const appraise = challengeVerifier({
    registry: deps.registry,
    policy: policy.spec,
    policyId: `${policy.metadata.namespace ?? ''}/${policy.metadata.name}`,
    referenceValues: policy.status?.referenceValues ?? [],
    signer: deps.signer,
    now,
    ...(initData !== undefined ? { initData } : {}),
  });
  // After the evidence passed and before anything is encrypted to its key: the policy must be, on the API
  // server, what the appraisal used. One read per reconcile, at the first passing appraisal.
  let confirmed: Promise<string | undefined> | undefined;
  const verify: typeof appraise = async (evidence, nonce, teePubkey) => {
    const verdict = await appraise(evidence, nonce, teePubkey);
    if (!verdict.ok || !deps.readPolicy) return verdict;
    const problem = await (confirmed ??= confirmPolicy(deps.readPolicy, policy));
    return problem === undefined ? verdict : { ok: false, code: AgentReason.PolicyUnconfirmed, message: problem };
  };
  return async (resourcePath: string, plaintext: Uint8Array): Promise<InjectResult> => {
    signal.throwIfAborted();
    const result = await injectResource({ baseUrl, resourcePath, plaintext, tee, verify, signal, ...(deps.injectRetry ? { retry: deps.injectRetry } : {}) });
    // Every push carries fresh evidence: an appraisal either passed or refused it (a transport failure is neither).
    if (result.ok) deps.metrics?.attestation(result.appraisal.submods.find((s) => s.teeClass === 'cpu')?.tee ?? tee, 'pass');
    else if (result.verification) deps.metrics?.attestation(tee, 'fail', result.verification.code);
    return result;
  };
}

/**
 * Why the cached policy may not be used for a release (undefined: the API server has the same, Ready policy).
 * Messages name the policy and the check, never the API server's response body.
 */
async function confirmPolicy(read: NonNullable<AttestDeps['readPolicy']>, cached: AttestationPolicy): Promise<string | undefined> {
  const name = cached.metadata.name ?? '';
  let live: AttestationPolicy | undefined;
  try {
    live = await read(cached.metadata.namespace ?? '', name);
  } catch (err) {
    const status = httpStatusOf(err);
    return `AttestationPolicy ${name} could not be read from the API server to confirm it${status !== undefined ? ` (HTTP ${status})` : ''}; nothing released until it can be`;
  }
  if (!live) return `AttestationPolicy ${name} no longer exists on the API server; nothing released`;
  if (!isPolicyReady(live)) {
    const ready = live.status?.conditions?.find((c) => c.type === 'Ready');
    return `AttestationPolicy ${name} is not ready on the API server (${ready?.reason ?? 'not reconciled'}); the operator's cached copy was behind; nothing released`;
  }
  if (live.metadata.generation !== cached.metadata.generation || trustDigestOf(live) !== trustDigestOf(cached)) {
    return `AttestationPolicy ${name} changed on the API server since the operator's cached copy (generation ${String(cached.metadata.generation)} → ${String(live.metadata.generation)}, reference values ${trustDigestOf(live) === trustDigestOf(cached) ? 'unchanged' : 'changed'}); nothing released, retrying with the current one`;
  }
  return undefined;
}

/**
 * Time to the next recheck on a wall-clock grid of `intervalMs`: every agent's recheck falls on the same
 * instants, so the provider's describes of a whole fleet coalesce (ECS: up to 100 instances per
 * DescribeInstances, cloud/alibaba/describe-batcher.ts) instead of one request per agent spread over the
 * interval. At least 1 s, so a reconcile on the grid line does not requeue itself at once.
 */
export function untilRecheck(intervalMs: number, nowMs: number): number {
  const left = intervalMs - (nowMs % intervalMs);
  return left < 1_000 ? left + intervalMs : left;
}

/** KBS mode: recorded KBS deliveries whose credential's sealed value changed since (a rotation). */
function rotatedKbsCredentials(agent: ConfidentialAgent, deps: AttestDeps): string[] {
  if (agent.spec.delivery.mode !== 'KBS' || !deps.credentials) return [];
  const out: string[] = [];
  for (const d of agent.status?.credentials ?? []) {
    if (d.mode !== 'KBS') continue;
    const cred = deps.credentials.get(agent.metadata.namespace, d.name);
    if (cred && sha256(cred.spec.encryptedData) !== d.digest) out.push(d.name);
  }
  return out;
}

/** Alibaba TDX instances present TDX evidence; a local instance presents what its simulated guest reports. */
function teeOf(agent: ConfidentialAgent, instance: InstanceInfo): string {
  return agent.spec.instance.alibaba ? 'tdx' : (instance.tee ?? 'sample');
}

function attestationRecord(result: Extract<InjectResult, { ok: true }>, instance: InstanceInfo, policy: AttestationPolicy, trustDigest: string, at: Date): AttestationRecord {
  const status = result.appraisal.status === 'none' ? 'contraindicated' : result.appraisal.status;
  return {
    instanceId: instance.id,
    ...(instance.startedAt ? { instanceStartedAt: instance.startedAt } : {}),
    teeType: result.appraisal.submods.find((s) => s.teeClass === 'cpu')?.tee ?? 'unknown',
    status,
    verifiedAt: at.toISOString(),
    nextAttestationAt: new Date(at.getTime() + policy.spec.reattestIntervalSeconds * 1000).toISOString(),
    ...(result.ear ? { tokenDigest: sha256(result.ear) } : {}),
    ...(policy.metadata.generation !== undefined ? { policyGeneration: policy.metadata.generation } : {}),
    trustDigest,
    appraisal: summarizeAppraisal(result.appraisal, policy.status?.referenceValues ?? []),
  };
}
