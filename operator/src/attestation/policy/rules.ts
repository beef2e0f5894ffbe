// Appraisal rules per TEE type: verified claims + policy + reference values → trust-vector entries.
// Deliberate choices (docs/secret-release.md): a pinned measurement that does not match is contraindicated
// (not trustee's "unrecognized" warning), and the sample TEEs never reach better than `warning` unless the
// policy explicitly says sample.trustAsAffirming (development only).
import type { AttestationPolicySpec } from '../../api/attestation-policy.ts';
import type { JsonValue, VerifiedEvidence } from '../verifier.ts';
import { RV_NAMES, type ReferenceSet } from './reference-values.ts';
import { TV } from './trust-vector.ts';
import type { VectorBuilder } from './vector-builder.ts';

const hexOf = (v: JsonValue | undefined): string | undefined => (typeof v === 'string' ? v.toLowerCase() : undefined);
const strings = (v: JsonValue | undefined): string[] | undefined =>
  Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;

/** Whether the policy explicitly appraises sample evidence as affirming (development only; see policy/development.ts). */
const sampleTrusted = (policy: AttestationPolicySpec) => policy.allowSampleTee && policy.sample?.trustAsAffirming === true;

export function appraiseSample(ev: VerifiedEvidence, policy: AttestationPolicySpec, rv: ReferenceSet, b: VectorBuilder): void {
  const trusted = sampleTrusted(policy);
  if (trusted) b.set('hardware', TV.GENUINE, 'SampleTrustedByPolicy', 'sample TEE trusted as genuine hardware because the policy sets sample.trustAsAffirming (development only)');
  else b.set('hardware', TV.UNSAFE_HW, 'SampleTee', 'sample TEE: no hardware root of trust, evidence is unsigned (development only)');
  if (ev.claims['debug'] === false) b.set('configuration', TV.APPROVED_CONFIG, 'ConfigApproved', 'sample TEE reports debug=false');
  else b.set('configuration', TV.UNSUPPORTABLE_CONFIG, 'DebugEnabled', 'sample TEE reports debug mode');
  const pinned = rv.get(RV_NAMES.launchDigest);
  const digest = hexOf(ev.claims['launch_digest']);
  if (!pinned && trusted) b.set('executables', TV.APPROVED_BOOT, 'SampleTrustedByPolicy', 'sample launch digest accepted without reference values because the policy sets sample.trustAsAffirming (development only)');
  else if (!pinned) b.set('executables', TV.UNRECOGNIZED_RUNTIME, 'NoReferenceValues', 'no launch_digest reference value to compare the sample launch digest with');
  else if (digest !== undefined && pinned.has(digest)) b.set('executables', TV.APPROVED_BOOT, 'LaunchDigestMatched', 'launch_digest matches a reference value');
  else b.set('executables', TV.CONTRAINDICATED_EXEC, 'LaunchDigestMismatch', 'launch_digest is not among the reference values');
}

export function appraiseSampleDevice(_ev: VerifiedEvidence, policy: AttestationPolicySpec, b: VectorBuilder): void {
  if (sampleTrusted(policy)) b.set('hardware', TV.GENUINE, 'SampleTrustedByPolicy', 'sampledevice trusted as genuine because the policy sets sample.trustAsAffirming (development only)');
  else b.set('hardware', TV.UNSAFE_HW, 'SampleTee', 'sampledevice: no hardware root of trust, evidence is unsigned (development only)');
}

function tdxHardware(ev: VerifiedEvidence, policy: AttestationPolicySpec, rv: ReferenceSet, b: VectorBuilder): void {
  const tcb = ev.claims['tcb_status'];
  const accepted: string[] = policy.tdx?.acceptedTcbStatuses ?? ['UpToDate'];
  if (typeof tcb !== 'string') b.set('hardware', TV.UNRECOGNIZED_HW, 'TcbStatusMissing', 'TDX claims carry no tcb_status');
  else if (tcb === 'Revoked') b.set('hardware', TV.CONTRAINDICATED_HW, 'TcbRevoked', 'platform TCB is Revoked');
  else if (!accepted.includes(tcb)) b.set('hardware', TV.CONTRAINDICATED_HW, 'TcbStatusNotAccepted', `TCB status ${tcb} is not in policy.tdx.acceptedTcbStatuses [${accepted.join(', ')}]`);
  else b.set('hardware', TV.GENUINE, 'TcbStatusAccepted', `genuine TDX platform, TCB status ${tcb}`);
  const advisories = strings(ev.claims['advisory_ids']);
  if (advisories && advisories.length > 0) b.note('Advisories', `platform advisories: ${advisories.slice(0, 16).join(', ')}`);
  const pinned = rv.get(RV_NAMES.mrTd);
  if (pinned) {
    const mrTd = hexOf(ev.claims['mr_td']);
    if (mrTd !== undefined && pinned.has(mrTd)) b.set('hardware', TV.GENUINE, 'MrTdMatched', 'MRTD (TDVF firmware) matches a reference value');
    else b.set('hardware', TV.UNRECOGNIZED_HW, 'MrTdMismatch', 'MRTD (TDVF firmware) is not among the reference values');
  }
}

function tdxConfiguration(ev: VerifiedEvidence, policy: AttestationPolicySpec, b: VectorBuilder): void {
  const debug = ev.claims['debug'];
  if (debug === true) b.set('configuration', TV.UNSUPPORTABLE_CONFIG, 'DebugTd', 'the TD runs in debug mode (its memory is readable by the host)');
  else if (debug === false) b.set('configuration', TV.APPROVED_CONFIG, 'ConfigApproved', 'TD attributes: debug off');
  else b.set('configuration', TV.UNAVAILABLE_CONFIG, 'DebugUnknown', 'TDX claims carry no debug attribute');
  const log = ev.claims['event_log'];
  // The TDX verifier reports 'verified' (CCEL replayed to the quote's RTMRs) or 'absent'.
  const hasLog = log === 'verified' || log === true;
  if (!hasLog && (policy.tdx?.requireEventLog ?? true)) {
    b.set('configuration', TV.UNSUPPORTABLE_CONFIG, 'EventLogMissing', 'policy.tdx.requireEventLog is set but no replayed CC event log was verified');
  }
}

function tdxExecutables(ev: VerifiedEvidence, rv: ReferenceSet, b: VectorBuilder): void {
  const checked: string[] = [];
  for (const [i, name] of RV_NAMES.rtmr.entries()) {
    const pinned = rv.get(name);
    if (!pinned) continue;
    const value = hexOf(ev.claims[`rtmr${i}`]);
    if (value === undefined || !pinned.has(value)) {
      b.set('executables', TV.CONTRAINDICATED_EXEC, 'RtmrMismatch', `RTMR${i} is not among the ${name} reference values`);
      return;
    }
    checked.push(name);
  }
  const ukiPinned = rv.get(RV_NAMES.uki);
  if (ukiPinned) {
    const ukis = (strings(ev.claims['uki_digests']) ?? []).map((d) => d.toLowerCase());
    if (!ukis.some((d) => ukiPinned.has(d))) {
      b.set('executables', TV.CONTRAINDICATED_EXEC, 'UkiMismatch', `no UKI digest in the event log is among the ${RV_NAMES.uki} reference values`);
      return;
    }
    checked.push(RV_NAMES.uki);
  }
  if (checked.length === 0) b.set('executables', TV.UNRECOGNIZED_RUNTIME, 'NoReferenceValues', 'no TDX boot-measurement reference values (UKI, RTMR) are configured');
  else b.set('executables', TV.APPROVED_BOOT, 'BootMeasurementsMatched', `boot measurements match reference values: ${checked.join(', ')}`);
}

export function appraiseTdx(ev: VerifiedEvidence, policy: AttestationPolicySpec, rv: ReferenceSet, b: VectorBuilder): void {
  tdxHardware(ev, policy, rv, b);
  tdxConfiguration(ev, policy, b);
  tdxExecutables(ev, rv, b);
  b.set('runtime-opaque', TV.ENCRYPTED_MEMORY, 'TdxMemoryEncrypted', 'TD memory is encrypted and integrity-protected by TDX');
}

export function appraiseNvidia(ev: VerifiedEvidence, policy: AttestationPolicySpec, b: VectorBuilder): void {
  const count = ev.claims['gpu_count'];
  if (typeof count === 'number' && count >= 1) b.set('hardware', TV.GENUINE, 'GpuGenuine', `${count} NVIDIA GPU(s) with verified device identity`);
  else b.set('hardware', TV.UNRECOGNIZED_HW, 'GpuCountMissing', 'NVIDIA claims report no attested GPU');
  const gpu = policy.gpu;
  const checks: [string, string[] | undefined, JsonValue | undefined][] = [
    ['driver', gpu?.allowedDriverVersions, ev.claims['driver_versions']],
    ['VBIOS', gpu?.allowedVbiosVersions, ev.claims['vbios_versions']],
  ];
  let pinned = false;
  for (const [what, allowed, claim] of checks) {
    if (!allowed) continue;
    pinned = true;
    const versions = strings(claim) ?? [];
    const bad = versions.filter((v) => !allowed.includes(v));
    if (versions.length === 0 || bad.length > 0) {
      b.set('configuration', TV.UNSUPPORTABLE_CONFIG, 'GpuVersionNotAllowed', `GPU ${what} version(s) ${bad.join(', ') || '(none reported)'} not in the policy allow-list`);
      return;
    }
  }
  if (pinned) b.set('configuration', TV.APPROVED_CONFIG, 'GpuVersionsAllowed', 'GPU driver/VBIOS versions are in the policy allow-lists');
  else b.set('configuration', TV.NO_CONFIG_VULNS, 'GpuVersionsUnpinned', 'GPU driver/VBIOS versions are not pinned by the policy');
}
