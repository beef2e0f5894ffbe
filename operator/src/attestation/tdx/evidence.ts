// Quote + optional CC event log → verified claims (no report-data binding; that is the caller's rule).
// Shared by the Verifier adapter and the `cai verify tdx` command. Never throws.
import type { JsonValue } from '../verifier.ts';
import { TdxError } from './errors.ts';
import type { TdxCollateral } from './collateral.ts';
import { verifyTdxQuote } from './verify-quote.ts';
import type { TdxFailure, TdxQuoteReport } from './verify-quote.ts';
import type { TdxVerificationMemo } from './memo.ts';
import { parseCcel } from './ccel.ts';
import { checkReplayMatchesQuote, replayCcel } from './replay.ts';
import type { Replay } from './replay.ts';
import { tdxClaims } from './claims.ts';

export interface TdxEvidenceInput {
  quote: Uint8Array;
  eventLog?: Uint8Array;
  collateral: TdxCollateral;
  at: Date;
  requireEventLog: boolean;
  rootCaPem?: string;
  memo?: TdxVerificationMemo;
}

export type TdxEvidenceVerdict =
  | { ok: true; claims: Record<string, JsonValue>; warnings: string[]; report: TdxQuoteReport; replay?: Replay }
  | { ok: false; failure: TdxFailure };

export function verifyTdxEvidence(input: TdxEvidenceInput): TdxEvidenceVerdict {
  const verdict = verifyTdxQuote({
    quote: input.quote,
    collateral: input.collateral,
    at: input.at,
    ...(input.rootCaPem ? { rootCaPem: input.rootCaPem } : {}),
    ...(input.memo ? { memo: input.memo } : {}),
  });
  if (!verdict.ok) return { ok: false, failure: verdict.failure };
  const warnings = [...verdict.report.warnings];
  try {
    let replay: Replay | undefined;
    if (input.eventLog) {
      replay = replayCcel(parseCcel(input.eventLog));
      checkReplayMatchesQuote(replay, verdict.report.quote.body.rtmrs);
    } else if (input.requireEventLog) {
      throw new TdxError('EventLogMissing', 'the policy requires a CC event log but the evidence has none');
    } else {
      warnings.push('no CC event log in the evidence: RTMR0-3 are reported but not explained by events');
    }
    const claims = tdxClaims(verdict.report, replay);
    return replay ? { ok: true, claims, warnings, report: verdict.report, replay } : { ok: true, claims, warnings, report: verdict.report };
  } catch (err) {
    if (err instanceof TdxError) return { ok: false, failure: { code: err.code, message: err.message } };
    return { ok: false, failure: { code: 'EventLogMalformed', message: `event log could not be processed: ${String(err)}` } };
  }
}
