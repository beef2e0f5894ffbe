// Coded refusals of the attestation service. The body is `{"error":"<Code>","detail":"<sentence>"}`: a TNG
// verifier prints the response body in its error, so the detail names the failed check and never echoes
// request bytes (they may be hostile) or anything secret.
export type AsErrorCode =
  | 'BodyTooLarge'
  | 'MalformedRequest'
  | 'InvalidPolicyId'
  | 'UnsupportedPolicyCount'
  | 'PolicyNotFound'
  | 'PolicyNotReady'
  | 'AgentNotFound'
  | 'AgentPolicyMismatch'
  | 'TeeNotAllowed'
  | 'ChallengeInvalid'
  | 'RateLimited'
  | 'Busy'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'InternalError';

const STATUS: Record<AsErrorCode, number> = {
  BodyTooLarge: 413,
  MalformedRequest: 400,
  InvalidPolicyId: 400,
  UnsupportedPolicyCount: 400,
  PolicyNotFound: 403,
  PolicyNotReady: 403,
  AgentNotFound: 403,
  AgentPolicyMismatch: 403,
  TeeNotAllowed: 403,
  ChallengeInvalid: 400,
  RateLimited: 429,
  Busy: 503,
  NotFound: 404,
  MethodNotAllowed: 405,
  InternalError: 500,
};

export interface AsResponse {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
  /** Set on refusals: the code logged and counted. */
  code?: AsErrorCode;
}

export function asError(code: AsErrorCode, detail: string, headers?: Record<string, string>): AsResponse {
  return { status: STATUS[code], contentType: 'application/json', body: JSON.stringify({ error: code, detail }), code, ...(headers ? { headers } : {}) };
}
