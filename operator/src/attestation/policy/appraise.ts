// Appraisal: verified evidences + AttestationPolicy + reference values → one AR4SI trust vector per EAR
// submodule (cpu0, gpu0, ...) and the overall status (worst tier across submodules). Pure: no I/O, no clock
// other than the one passed in.
import type { AttestationPolicySpec } from '../../api/attestation-policy.ts';
import type { TeeType, VerifiedEvidence } from '../verifier.ts';
import { referenceSet, type ReferenceValue } from './reference-values.ts';
import { appraiseNvidia, appraiseSample, appraiseSampleDevice, appraiseTdx } from './rules.ts';
import { sandboxPolicyDecision } from './sandbox-policy.ts';
import { releaseAllowed, statusOf, TV, worst, type EarStatus, type TrustVector } from './trust-vector.ts';
import { VectorBuilder, type AppraisalReason } from './vector-builder.ts';

export interface SubmodAppraisal {
  /** EAR submodule name: cpu0, gpu0, gpu1, ... */
  name: string;
  tee: TeeType | 'none';
  teeClass: 'cpu' | 'gpu';
  vector: TrustVector;
  status: EarStatus;
  /** The verified claims this submodule was appraised on (becomes ear.veraison.annotated-evidence). */
  evidence?: VerifiedEvidence;
}

export interface Appraisal {
  status: EarStatus;
  submods: SubmodAppraisal[];
  reasons: AppraisalReason[];
  appraisedAt: string;
  /** Whether the sample TEE was involved (surface it in status and logs as a warning). */
  sampleTee: boolean;
}

export function appraise(verified: VerifiedEvidence[], policy: AttestationPolicySpec, referenceValues: ReferenceValue[], at: Date): Appraisal {
  const rv = referenceSet(policy, referenceValues);
  const submods: SubmodAppraisal[] = [];
  const reasons: AppraisalReason[] = [];
  const index = { cpu: 0, gpu: 0 };
  const finish = (b: VectorBuilder, tee: SubmodAppraisal['tee'], teeClass: 'cpu' | 'gpu', evidence?: VerifiedEvidence) => {
    submods.push({ name: b.submod, tee, teeClass, vector: b.vector, status: statusOf(b.vector), ...(evidence ? { evidence } : {}) });
    reasons.push(...b.reasons);
  };
  for (const ev of verified) {
    const b = new VectorBuilder(`${ev.teeClass}${index[ev.teeClass]++}`);
    if (ev.tee === 'sample') appraiseSample(ev, policy, rv, b);
    else if (ev.tee === 'sampledevice') appraiseSampleDevice(ev, policy, b);
    else if (ev.tee === 'tdx') appraiseTdx(ev, policy, rv, b);
    else appraiseNvidia(ev, policy, b);
    for (const w of ev.warnings) b.note('VerifierWarning', w);
    finish(b, ev.tee, ev.teeClass, ev);
  }
  if (index.cpu === 0) {
    const b = new VectorBuilder('cpu0');
    b.set('hardware', TV.UNRECOGNIZED_HW, 'PrimaryEvidenceMissing', 'no verified CPU (primary) evidence');
    finish(b, 'none', 'cpu');
  }
  if (policy.gpu?.required) {
    const hasNvidia = verified.some((v) => v.tee === 'nvidia');
    const hasSampleDevice = policy.allowSampleTee && verified.some((v) => v.tee === 'sampledevice');
    if (!hasNvidia && !hasSampleDevice) {
      const b = new VectorBuilder(`gpu${index.gpu++}`);
      b.set('hardware', TV.UNRECOGNIZED_HW, 'GpuEvidenceMissing', 'policy.gpu.required is set but no NVIDIA GPU evidence was verified');
      finish(b, 'none', 'gpu');
    }
  }
  const status = submods.reduce<EarStatus>((s, m) => worst(s, m.status), 'none');
  return { status, submods, reasons, appraisedAt: at.toISOString(), sampleTee: verified.some((v) => v.tee === 'sample' || v.tee === 'sampledevice') };
}

/** The release decision for one appraisal under one policy, with the reason when refused. */
export function releaseDecision(appraisal: Appraisal, policy: AttestationPolicySpec): { ok: true } | { ok: false; code: string; message: string } {
  if (appraisal.sampleTee && !policy.allowSampleTee) {
    return { ok: false, code: 'SampleTeeNotAllowed', message: 'the AttestationPolicy does not allow the sample TEE' };
  }
  const sandbox = sandboxPolicyDecision(policy, appraisal.submods.map((m) => m.evidence));
  if (!sandbox.ok) return sandbox;
  if (releaseAllowed(appraisal.status, policy.minimumStatus)) return { ok: true };
  const worstReasons = appraisal.reasons.filter((r) => r.tier === appraisal.status).map((r) => `${r.submod}: ${r.message}`);
  return {
    ok: false,
    code: 'AppraisalBelowMinimum',
    message: `appraisal status ${appraisal.status} is below the policy minimum ${policy.minimumStatus}${worstReasons.length ? ` (${worstReasons.slice(0, 4).join('; ')})` : ''}`,
  };
}
