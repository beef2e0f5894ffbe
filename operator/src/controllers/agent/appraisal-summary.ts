// The part of an appraisal worth keeping in status (status.attestation.appraisal): per-submodule trust
// vectors, the TDX measurements and TCB, the UKI digest with the reference value it matched, and the GPUs
// with their RIMs. Pure. Claims come from verified evidence but are still shaped by a guest, so every value
// is checked against the schema's pattern and size and dropped when it does not fit, never truncated into
// something that looks valid.
import type { AppraisalSummary } from '../../api/confidential-agent.ts';
import type { AttestationPolicyStatus } from '../../api/attestation-policy.ts';
import type { Appraisal } from '../../attestation/policy/appraise.ts';
import type { JsonValue } from '../../attestation/verifier.ts';

type ResolvedReferenceValue = NonNullable<AttestationPolicyStatus['referenceValues']>[number];

const UKI_MEASUREMENT = 'measurement.uki.SHA-384';
const MAX_GPUS = 16;

/** Hex of exactly `length` characters (measurements and FMSPCs have fixed sizes). */
const hexOf = (v: JsonValue | undefined, length: number): string | undefined => (typeof v === 'string' && v.length === length && /^[0-9a-fA-F]*$/.test(v) ? v.toLowerCase() : undefined);
const textOf = (v: JsonValue | undefined, max: number): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= max && /^[\x20-\x7e]*$/.test(v) ? v : undefined);
const timeOf = (v: JsonValue | undefined): string | undefined => {
  const s = textOf(v, 40);
  return s && Number.isFinite(Date.parse(s)) ? s : undefined;
};
const optional = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));

export function summarizeAppraisal(appraisal: Appraisal, referenceValues: readonly ResolvedReferenceValue[]): AppraisalSummary {
  const summary: AppraisalSummary = {
    submods: appraisal.submods.slice(0, 17).map((m) => ({ name: m.name.slice(0, 16), tee: m.tee.slice(0, 16), status: m.status, trustVector: { ...m.vector } })),
  };
  const tdx = appraisal.submods.find((m) => m.evidence?.tee === 'tdx')?.evidence?.claims;
  if (tdx) {
    const mrTd = hexOf(tdx['mr_td'], 96);
    const rtmrs = [0, 1, 2, 3].map((i) => hexOf(tdx[`rtmr${i}`], 96));
    const tcbStatus = textOf(tdx['tcb_status'], 64);
    if (mrTd !== undefined && tcbStatus !== undefined && rtmrs.every((r) => r !== undefined)) {
      const advisories = Array.isArray(tdx['advisory_ids']) ? tdx['advisory_ids'].slice(0, 64).map((a) => textOf(a, 32)).filter((a): a is string => a !== undefined) : [];
      const ukis = Array.isArray(tdx['uki_digests']) ? tdx['uki_digests'].map((d) => hexOf(d, 96)).filter((d): d is string => d !== undefined) : [];
      // The booted UKI is the digest that matched a published reference value (else the first measured).
      const matched = ukis.flatMap((d) => referenceValues.filter((rv) => rv.name === UKI_MEASUREMENT && rv.digest.toLowerCase() === d).map((rv) => ({ d, rv })))[0];
      summary.tdx = {
        mrTd,
        rtmrs: rtmrs as string[],
        tcbStatus,
        ...(advisories.length ? { advisoryIds: advisories } : {}),
        ...optional('fmspc', hexOf(tdx['fmspc'], 12)),
        ...optional('collateralExpiresAt', timeOf(tdx['collateral_expires_at'])),
        ...optional('ukiDigest', matched?.d ?? ukis[0]),
        ...(matched
          ? { referenceValue: { digest: matched.rv.digest.toLowerCase(), ...optional('version', matched.rv.version), ...optional('logIndex', matched.rv.logIndex) } }
          : {}),
      };
    }
  }
  const gpus = appraisal.submods.flatMap((m) => (m.evidence?.tee === 'nvidia' && Array.isArray(m.evidence.claims['gpus']) ? m.evidence.claims['gpus'] : []));
  const summaries = gpus.slice(0, MAX_GPUS).flatMap((g) => {
    if (typeof g !== 'object' || g === null || Array.isArray(g)) return [];
    const arch = textOf(g['arch'], 32);
    const driverVersion = textOf(g['driver_version'], 32);
    const vbiosVersion = textOf(g['vbios_version'], 32);
    if (!arch || !driverVersion || !vbiosVersion) return [];
    return [{ arch, driverVersion, vbiosVersion, ...optional('driverRimId', textOf(g['driver_rim_id'], 128)), ...optional('vbiosRimId', textOf(g['vbios_rim_id'], 128)), ...optional('rimExpiresAt', timeOf(g['rim_expires_at'])) }];
  });
  if (summaries.length) summary.gpus = summaries;
  return summary;
}
