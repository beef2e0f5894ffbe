// Typed failures for NVIDIA GPU evidence. Codes are stable API: policies, status conditions and tests
// match on them; messages name the field or check and why, and never carry secrets.
export type NvidiaErrorCode =
  // evidence shape
  | 'EvidenceMalformed'
  | 'SpdmMalformed'
  | 'SpdmUnsupported'
  | 'OpaqueMalformed'
  | 'CertificateMalformed'
  // report binding and signature
  | 'NonceMismatch'
  | 'ReportSignatureInvalid'
  | 'ReportVersionMismatch'
  | 'FwidMismatch'
  // certificate chains
  | 'DeviceChainUntrusted'
  | 'DeviceChainInvalid'
  | 'DeviceCertExpired'
  | 'RimChainUntrusted'
  | 'RimChainInvalid'
  | 'RimCertExpired'
  // RIMs
  | 'RimMissing'
  | 'RimUnavailable'
  | 'RimMalformed'
  | 'RimSignatureInvalid'
  | 'RimVersionMismatch'
  | 'RimIndexConflict'
  | 'RimMismatch'
  | 'RimUrlNotAllowed'
  // OCSP
  | 'OcspRevoked'
  | 'OcspUnknown'
  | 'OcspUnavailable'
  | 'OcspResponseInvalid'
  | 'OcspUrlNotAllowed'
  // policy
  | 'DriverVersionNotAllowed'
  | 'VbiosVersionNotAllowed';

export class NvidiaError extends Error {
  readonly code: NvidiaErrorCode;
  /** Extra machine-readable detail (e.g. mismatching RIM indices); never secret material. */
  readonly detail: Readonly<Record<string, string | number | number[] | string[]>> | undefined;

  constructor(code: NvidiaErrorCode, message: string, detail?: Record<string, string | number | number[] | string[]>) {
    super(message);
    this.name = 'NvidiaError';
    this.code = code;
    this.detail = detail;
  }
}

/** Converts anything thrown into an NvidiaError with the given fallback code (parsers never leak raw exceptions). */
export function asNvidiaError(err: unknown, fallback: NvidiaErrorCode, context: string): NvidiaError {
  if (err instanceof NvidiaError) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new NvidiaError(fallback, `${context}: ${why}`);
}
