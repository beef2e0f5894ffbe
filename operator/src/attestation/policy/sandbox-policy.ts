// AttestationPolicy.spec.sandboxPolicy: the guest must report (in its attested init-data) one of the
// required tool-sandbox policy digests. Pure: reads the verified claims the appraisal carries.
import type { AttestationPolicySpec } from '../../api/attestation-policy.ts';
import type { VerifiedEvidence } from '../verifier.ts';

/** Claim the primary (CPU) evidence carries when the guest's init-data names its sandbox policy. */
export const SANDBOX_POLICY_CLAIM = 'sandbox_policy_digest';

export function reportedSandboxPolicy(evidence: Array<VerifiedEvidence | undefined>): string | undefined {
  const cpu = evidence.find((e) => e?.teeClass === 'cpu');
  const v = cpu?.claims[SANDBOX_POLICY_CLAIM];
  return typeof v === 'string' ? v : undefined;
}

export function sandboxPolicyDecision(
  policy: AttestationPolicySpec,
  evidence: Array<VerifiedEvidence | undefined>,
): { ok: true } | { ok: false; code: 'SandboxPolicyMismatch'; message: string } {
  const required = policy.sandboxPolicy?.requiredDigests;
  if (!required || required.length === 0) return { ok: true };
  const reported = reportedSandboxPolicy(evidence);
  if (reported !== undefined && required.includes(reported)) return { ok: true };
  const want = required.length === 1 ? `sandbox policy digest ${required[0]}` : `one of the sandbox policy digests ${required.join(', ')}`;
  return {
    ok: false,
    code: 'SandboxPolicyMismatch',
    message:
      reported === undefined
        ? `the guest reports no sandbox policy digest in its attested init-data; the AttestationPolicy requires ${want}`
        : `the guest runs sandbox policy digest ${reported}; the AttestationPolicy requires ${want}`,
  };
}
