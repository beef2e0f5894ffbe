// AttestationPolicy reconciler: checks what the API server cannot (keys parse, referenced ConfigMaps
// exist), resolves reference values (inline, Rekor or an offline bundle) and publishes them with the
// verified log checkpoint in status. A policy whose values cannot be verified is Ready=False and the
// agents using it are not released anything.
import { createPublicKey } from 'node:crypto';
import type { AttestationPolicy, AttestationPolicyStatus } from '../api/attestation-policy.ts';
import type { Condition } from '../api/common.ts';
import { EventAction, PolicyCondition, PolicyReason } from '../api/conditions.ts';
import { setCondition } from '../runtime/conditions.ts';
import { trustsSampleAsAffirming } from '../attestation/policy/development.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { jsonEqual } from '../runtime/json-equal.ts';
import type { KubeClients, ObjectKey, ReconcileContext, ReconcileResult, SharedInformer } from '../runtime/manager.ts';
import { patchStatus } from '../runtime/status.ts';
import type { ConditionInput } from './agent/phase.ts';
import { POLICIES } from './resources.ts';

export interface ResolvedValues {
  ok: true;
  values: NonNullable<AttestationPolicyStatus['referenceValues']>;
  checkpoint?: AttestationPolicyStatus['checkpoint'];
}
export interface ResolveFailure {
  ok: false;
  /** The failure code (becomes the condition reason), as every module names it. */
  code: string;
  message: string;
}

/** Resolves spec.tdx.referenceValues (see attestation/refvalues). */
export type ReferenceValueResolver = (
  policy: AttestationPolicy,
  previous: AttestationPolicyStatus['checkpoint'],
  at: Date,
) => Promise<ResolvedValues | ResolveFailure>;

export interface PolicyControllerDeps {
  policies: SharedInformer<AttestationPolicy>;
  clients: KubeClients;
  events: EventRecorder;
  resolveReferenceValues: ReferenceValueResolver;
  /** Since when the PCCS at a URL has been failing (cached collateral is then in use). */
  pccsUnreachableSince?: (pccsUrl: string) => Date | undefined;
  /** A tenant-supplied URL (rekor.url, pccsUrl) off the operator's egress allow-list: refused, never fetched. */
  egressProblem?: (policy: AttestationPolicy) => { code: string; message: string } | undefined;
}

/** How often a TDX policy re-checks its collateral source, so the condition stays current. */
const COLLATERAL_CHECK_MS = 5 * 60_000;

export function policyReconciler(deps: PolicyControllerDeps) {
  return async function reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const policy = deps.policies.get(key.namespace, key.name);
    if (!policy || policy.metadata.deletionTimestamp) return;
    const at = new Date(ctx.clock.now());
    let conditions: Condition[] = policy.status?.conditions ?? [];
    const set = (c: ConditionInput) => (conditions = setCondition(conditions, c, policy.metadata.generation, at));
    const status: AttestationPolicyStatus = { ...policy.status, referenceValuesSource: referenceSource(policy) };

    if (policy.spec.allowSampleTee) {
      set({ type: PolicyCondition.SampleTeeAllowed, status: 'True', reason: PolicyReason.DevelopmentSetting, message: 'the sample TEE (no hardware protection) is accepted: development only' });
      if (!policy.status?.conditions?.some((c) => c.type === PolicyCondition.SampleTeeAllowed && c.status === 'True')) {
        ctx.logger.warn({ policy: `${key.namespace}/${key.name}` }, 'policy accepts the sample TEE: no hardware protection, development only');
        deps.events.emit(policy, 'Warning', PolicyCondition.SampleTeeAllowed, EventAction.Validate, 'policy accepts the sample TEE: development only, no hardware protection');
      }
    } else if (conditions.some((c) => c.type === PolicyCondition.SampleTeeAllowed)) {
      set({ type: PolicyCondition.SampleTeeAllowed, status: 'False', reason: PolicyReason.HardwareTeeRequired, message: 'only hardware TEE evidence is accepted' });
    }

    if (trustsSampleAsAffirming(policy.spec)) {
      set({ type: PolicyCondition.DevelopmentOnly, status: 'True', reason: PolicyReason.SampleTrustedAsAffirming, message: 'spec.sample.trustAsAffirming appraises unsigned sample evidence as affirming: never use this policy in production' });
      if (!policy.status?.conditions?.some((c) => c.type === PolicyCondition.DevelopmentOnly && c.status === 'True')) {
        ctx.logger.warn({ policy: `${key.namespace}/${key.name}` }, 'policy appraises sample evidence as affirming: development only');
        deps.events.emit(policy, 'Warning', PolicyCondition.DevelopmentOnly, EventAction.Validate, 'policy appraises unsigned sample evidence as affirming (sample.trustAsAffirming): development only');
      }
    } else if (conditions.some((c) => c.type === PolicyCondition.DevelopmentOnly)) {
      set({ type: PolicyCondition.DevelopmentOnly, status: 'False', reason: PolicyReason.NoDevelopmentSettings, message: 'sample evidence is not appraised as affirming' });
    }

    const problem = validate(policy) ?? deps.egressProblem?.(policy);
    const pccsUrl = policy.spec.tdx?.pccsUrl;
    if (pccsUrl && deps.pccsUnreachableSince && problem?.code !== 'PccsUrlNotAllowed') {
      const since = deps.pccsUnreachableSince(pccsUrl);
      set(
        since
          ? { type: PolicyCondition.CollateralAvailable, status: 'False', reason: PolicyReason.PccsUnreachable, message: `PCCS ${pccsUrl} unreachable since ${since.toISOString()}; verifying with cached collateral until it expires` }
          : { type: PolicyCondition.CollateralAvailable, status: 'True', reason: PolicyReason.PccsReachable, message: `collateral from ${pccsUrl}` },
      );
    }

    let requeueAfterMs: number | undefined;
    if (problem) {
      delete status.referenceValues; // values resolved under an earlier, acceptable spec no longer apply
      set({ type: PolicyCondition.ReferenceValuesResolved, status: 'False', reason: problem.code, message: problem.message });
      set({ type: PolicyCondition.Ready, status: 'False', reason: problem.code, message: problem.message });
    } else {
      const resolved = await deps.resolveReferenceValues(policy, policy.status?.checkpoint, at);
      if (resolved.ok) {
        status.referenceValues = resolved.values;
        if (resolved.checkpoint) status.checkpoint = resolved.checkpoint;
        status.lastResolvedAt = at.toISOString();
        const source = referenceSource(policy);
        const msg = source === 'none' ? 'no TDX reference values configured' : `${resolved.values.length} reference values resolved from ${source}`;
        set({ type: PolicyCondition.ReferenceValuesResolved, status: 'True', reason: source === 'none' ? PolicyReason.NoReferenceValues : PolicyReason.Resolved, message: msg });
        set({ type: PolicyCondition.Ready, status: 'True', reason: PolicyReason.PolicyReady, message: msg });
      } else {
        // Stop using values that can no longer be verified (e.g. the log forked): clear them.
        delete status.referenceValues;
        set({ type: PolicyCondition.ReferenceValuesResolved, status: 'False', reason: resolved.code, message: resolved.message });
        set({ type: PolicyCondition.Ready, status: 'False', reason: resolved.code, message: resolved.message });
        deps.events.emit(policy, 'Warning', resolved.code, EventAction.ResolveReferenceValues, resolved.message);
      }
      const rekor = policy.spec.tdx?.referenceValues?.rekor;
      requeueAfterMs = rekor ? rekor.refreshIntervalSeconds * 1000 : undefined;
      if (pccsUrl) requeueAfterMs = Math.min(requeueAfterMs ?? COLLATERAL_CHECK_MS, COLLATERAL_CHECK_MS);
    }
    status.conditions = conditions;
    // Without a periodic refresh, a resolution that changed nothing but its timestamp is not worth a write.
    const previous = policy.status;
    if (!requeueAfterMs && previous?.lastResolvedAt && jsonEqual({ ...status, lastResolvedAt: undefined, observedGeneration: undefined }, { ...previous, lastResolvedAt: undefined, observedGeneration: undefined })) {
      status.lastResolvedAt = previous.lastResolvedAt;
    }
    await patchStatus(deps.clients, POLICIES, policy, status, ctx.signal); // sends nothing when nothing changed
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  };
}

export function referenceSource(policy: AttestationPolicy): 'inline' | 'rekor' | 'bundle' | 'none' {
  const rv = policy.spec.tdx?.referenceValues;
  return rv?.rekor ? 'rekor' : rv?.bundle ? 'bundle' : rv?.inline ? 'inline' : 'none';
}

/** Checks the API server's schema cannot express. */
export function validate(policy: AttestationPolicy): { code: string; message: string } | undefined {
  const rv = policy.spec.tdx?.referenceValues;
  const signed = rv?.rekor ?? rv?.bundle;
  const field = rv?.rekor ? 'spec.tdx.referenceValues.rekor.publicKey' : 'spec.tdx.referenceValues.bundle.publicKey';
  if (signed) {
    try {
      const key = createPublicKey(signed.publicKey);
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        return { code: PolicyReason.InvalidPublicKey, message: `${field} must be a P-256 public key, got ${key.asymmetricKeyType ?? 'unknown'} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim() };
      }
    } catch {
      return { code: PolicyReason.InvalidPublicKey, message: `${field} is not a PEM public key` };
    }
  }
  if (!policy.spec.allowSampleTee && !policy.spec.tdx) {
    return { code: PolicyReason.NoTeeAccepted, message: 'spec.tdx is not set and the sample TEE is not allowed: no evidence could ever satisfy this policy' };
  }
  return undefined;
}
