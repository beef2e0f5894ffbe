// Typed failures for TDX verification. Every check that can fail throws a TdxError whose `code` is stable
// (callers and policies match on it) and whose message is one human sentence naming the failed check.

export type TdxErrorCode =
  // quote parsing
  | 'QuoteTruncated'
  | 'QuoteMalformed'
  | 'QuoteUnsupportedVersion'
  | 'QuoteUnsupportedTeeType'
  | 'QuoteUnsupportedKeyType'
  | 'QuoteUnsupportedBodyType'
  | 'QuoteVendorMismatch'
  | 'CertificationDataUnsupported'
  // certificates and CRLs
  | 'CertificateMalformed'
  | 'CertificateChainInvalid'
  | 'CertificateExpired'
  | 'CertificateNotYetValid'
  | 'CertificateRevoked'
  | 'RootCaMismatch'
  | 'CrlMalformed'
  | 'CrlSignatureInvalid'
  | 'CrlIssuerMismatch'
  | 'CrlExpired'
  | 'PckExtensionMalformed'
  // signed collateral
  | 'TcbInfoMalformed'
  | 'TcbInfoSignatureInvalid'
  | 'TcbInfoExpired'
  | 'QeIdentityMalformed'
  | 'QeIdentitySignatureInvalid'
  | 'QeIdentityExpired'
  | 'CollateralUnavailable'
  // quote checks
  | 'QeReportSignatureInvalid'
  | 'QeReportDataMismatch'
  | 'QeIdentityMismatch'
  | 'QeTcbNotSupported'
  | 'QuoteSignatureInvalid'
  | 'FmspcMismatch'
  | 'PceIdMismatch'
  | 'TdxModuleMismatch'
  | 'TcbLevelNotFound'
  | 'TcbRevoked'
  | 'TdDebug'
  // evidence binding and event log
  | 'EvidenceMalformed'
  | 'ReportDataMismatch'
  | 'InitDataMismatch'
  | 'EventLogMalformed'
  | 'EventLogMissing'
  | 'RtmrMismatch'
  | 'UkiNotMeasured';

export class TdxError extends Error {
  readonly code: TdxErrorCode;
  constructor(code: TdxErrorCode, message: string) {
    super(message);
    this.name = 'TdxError';
    this.code = code;
  }
}

/** Converts anything thrown inside a parser into a TdxError with the given code (no raw exception escapes). */
export function asTdxError(err: unknown, code: TdxErrorCode, context: string): TdxError {
  if (err instanceof TdxError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new TdxError(code, `${context}: ${detail}`);
}
