// The TDX Verifier (tee 'tdx') behind the shared Verifier interface. Evidence is the KBS wire form
// {"cc_eventlog": "<std b64>"|null, "quote": "<std b64>"}; collateral comes from the injected source for the
// policy's PCCS URL; verified collateral and PCK chains are memoized in this verifier's own memo.
import type { EvidenceToVerify, VerificationResult, Verifier } from '../verifier.ts';
import { TdxPolicySchema } from '../../api/attestation-policy.ts';
import { TdxError } from './errors.ts';
import { bytesEqual, toHex } from './bytes.ts';
import { parseTdxQuote } from './quote.ts';
import { verifyTdxEvidence } from './evidence.ts';
import { createTdxMemo } from './memo.ts';
import type { TdxVerificationMemo } from './memo.ts';
import { collateralRequestFor } from './collateral-source.ts';
import type { TdxCollateralSource } from './collateral-source.ts';

export interface TdxVerifierDeps {
  collateralFor(pccsUrl: string): TdxCollateralSource;
  /** Trust anchor override (tests with a private PKI); defaults to the pinned Intel SGX Root CA. */
  intelRootCaPem?: string;
  /** Memo for verified collateral and PCK chains; one per verifier when omitted. */
  memo?: TdxVerificationMemo;
}

/** Strict standard base64 (padded, canonical): decoding and re-encoding must give the same text. */
function decodeB64(value: unknown, field: string): Uint8Array {
  const bytes = typeof value === 'string' && value.length > 0 && value.length % 4 === 0 ? Buffer.from(value, 'base64') : undefined;
  if (!bytes || bytes.toString('base64') !== value) {
    throw new TdxError('EvidenceMalformed', `TDX evidence field "${field}" is not standard base64`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Other fields (e.g. the legacy 2024 `aa_eventlog`) are ignored, as trustee's serde does, and reported. */
function readEvidence(evidence: unknown): { quote: Uint8Array; eventLog?: Uint8Array; ignored: string[] } {
  if (typeof evidence !== 'object' || evidence === null || Array.isArray(evidence)) {
    throw new TdxError('EvidenceMalformed', 'TDX evidence must be a JSON object {"cc_eventlog", "quote"}');
  }
  const e = evidence as Record<string, unknown>;
  const ignored = Object.keys(e).filter((k) => k !== 'quote' && k !== 'cc_eventlog');
  const quote = decodeB64(e.quote, 'quote');
  if (e.cc_eventlog === null || e.cc_eventlog === undefined) return { quote, ignored };
  return { quote, eventLog: decodeB64(e.cc_eventlog, 'cc_eventlog'), ignored };
}

function fail(err: unknown): VerificationResult {
  if (err instanceof TdxError) return { ok: false, failure: { code: err.code, message: err.message } };
  return { ok: false, failure: { code: 'VerifierError', message: `TDX verification failed unexpectedly: ${err instanceof Error ? err.message : String(err)}` } };
}

export function createTdxVerifier(deps: TdxVerifierDeps): Verifier {
  const memo = deps.memo ?? createTdxMemo();
  return {
    tee: 'tdx',
    async verify(input: EvidenceToVerify): Promise<VerificationResult> {
      try {
        const policy = input.policy.tdx ?? TdxPolicySchema.parse({});
        const { quote: quoteBytes, eventLog, ignored } = readEvidence(input.evidence);
        const parsed = parseTdxQuote(quoteBytes);
        let source: TdxCollateralSource;
        let fetched;
        try {
          source = deps.collateralFor(policy.pccsUrl);
          fetched = await source.get(collateralRequestFor(parsed, input.at, memo));
        } catch (err) {
          if (err instanceof TdxError) throw err;
          throw new TdxError('CollateralUnavailable', `collateral for this platform could not be obtained from ${policy.pccsUrl}: ${err instanceof Error ? err.message : String(err)}`);
        }
        if (input.expectedReportData.length !== 48) throw new TdxError('ReportDataMismatch', `expected report data must be 48 bytes (SHA-384), got ${input.expectedReportData.length}`);
        const verdict = verifyTdxEvidence({
          quote: quoteBytes,
          ...(eventLog ? { eventLog } : {}),
          collateral: fetched.collateral,
          at: input.at,
          requireEventLog: policy.requireEventLog,
          memo,
          ...(deps.intelRootCaPem ? { rootCaPem: deps.intelRootCaPem } : {}),
        });
        if (!verdict.ok) return { ok: false, failure: verdict.failure };
        const body = verdict.report.quote.body;
        const expected = new Uint8Array(64);
        expected.set(input.expectedReportData);
        if (!bytesEqual(body.reportData, expected)) {
          throw new TdxError('ReportDataMismatch', 'quote REPORTDATA is not the runtime-data digest zero-padded to 64 bytes');
        }
        if (input.initDataDigest) {
          const want = new Uint8Array(48);
          if (input.initDataDigest.length > 48) throw new TdxError('InitDataMismatch', 'init-data digest is longer than MRCONFIGID (48 bytes)');
          want.set(input.initDataDigest);
          if (!bytesEqual(body.mrConfigId, want)) throw new TdxError('InitDataMismatch', `MRCONFIGID ${toHex(body.mrConfigId)} is not the init-data digest zero-padded to 48 bytes`);
        }
        const warnings = [...fetched.warnings, ...verdict.warnings];
        if (ignored.length > 0) warnings.push(`TDX evidence fields ignored (not verified): ${ignored.join(', ')}`);
        return { ok: true, verified: { tee: 'tdx', teeClass: 'cpu', claims: verdict.claims, warnings } };
      } catch (err) {
        return fail(err);
      }
    },
  };
}
