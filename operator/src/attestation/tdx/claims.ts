// The flat claims the appraisal policy matches on (lowercase hex for bytes), built only from verified data.
import type { JsonValue } from '../verifier.ts';
import { toHex } from './bytes.ts';
import type { TdxQuoteReport } from './verify-quote.ts';
import type { Replay } from './replay.ts';
import { bootApplicationDigests } from './replay.ts';

export function tdAttributeFlags(tdAttributes: Uint8Array) {
  const v = Buffer.from(tdAttributes).readBigUInt64LE(0);
  return {
    debug: (v & 1n) !== 0n,
    septVeDisable: (v & (1n << 28n)) !== 0n,
    pks: (v & (1n << 30n)) !== 0n,
    kl: (v & (1n << 31n)) !== 0n,
    perfmon: (v & (1n << 63n)) !== 0n,
  };
}

export function tdxClaims(report: TdxQuoteReport, replay: Replay | undefined): Record<string, JsonValue> {
  const b = report.quote.body;
  const flags = tdAttributeFlags(b.tdAttributes);
  const claims: Record<string, JsonValue> = {
    quote_version: report.quote.header.version,
    mr_td: toHex(b.mrTd),
    mr_seam: toHex(b.mrSeam),
    mr_signer_seam: toHex(b.mrSignerSeam),
    mr_config_id: toHex(b.mrConfigId),
    mr_owner: toHex(b.mrOwner),
    mr_owner_config: toHex(b.mrOwnerConfig),
    rtmr0: toHex(b.rtmrs[0]),
    rtmr1: toHex(b.rtmrs[1]),
    rtmr2: toHex(b.rtmrs[2]),
    rtmr3: toHex(b.rtmrs[3]),
    report_data: toHex(b.reportData),
    td_attributes: toHex(b.tdAttributes),
    seam_attributes: toHex(b.seamAttributes),
    xfam: toHex(b.xfam),
    tee_tcb_svn: toHex(b.teeTcbSvn),
    debug: flags.debug,
    sept_ve_disable: flags.septVeDisable,
    tcb_status: report.tcb.status,
    advisory_ids: report.tcb.advisoryIds,
    platform_tcb_status: report.tcb.platformStatus,
    qe_tcb_status: report.tcb.qeStatus,
    tcb_date: report.tcb.platformTcbDate,
    td_relaunch_advised: report.tcb.tdRelaunchAdvised,
    tcb_evaluation_data_number: report.tcbEvaluationDataNumber,
    fmspc: toHex(report.pck.extension.fmspc),
    pck_ca: report.pck.caType,
    collateral_expires_at: report.collateralExpiresAt.toISOString(),
    event_log: replay ? 'verified' : 'absent',
    uki_digests: replay ? bootApplicationDigests(replay) : [],
  };
  if (report.tcb.moduleStatus) claims.tdx_module_tcb_status = report.tcb.moduleStatus;
  if (b.teeTcbSvn2) claims.tee_tcb_svn2 = toHex(b.teeTcbSvn2);
  if (b.mrServiceTd) claims.mr_servicetd = toHex(b.mrServiceTd);
  if (replay) {
    claims.aael_events = replay.events.flatMap((e) =>
      e.decoded?.kind === 'aael' ? [{ domain: e.decoded.domain, operation: e.decoded.operation, content: e.decoded.content }] : [],
    );
  }
  return claims;
}
