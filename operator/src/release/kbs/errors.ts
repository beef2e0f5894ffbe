// KBS ErrorInformation: {"type":"https://github.com/confidential-containers/kbs/errors/<Variant>","detail"}.
// Status is 404 only for InvalidRequestPath and PluginNotFound and 401 for everything else, because clients
// parse the body of a 401 as ErrorInformation and re-run the handshake on it.
export type KbsErrorType =
  | 'AdminAuthAccess'
  | 'AttestationError'
  | 'InvalidRequestPath'
  | 'JweError'
  | 'PluginNotFound'
  | 'PluginInternalError'
  | 'PolicyDeny'
  | 'SerdeError'
  | 'TokenNotFound'
  | 'TokenVerifierError';

export const KBS_ERROR_PREFIX = 'https://github.com/confidential-containers/kbs/errors/';

export interface KbsErrorResponse {
  status: 401 | 404;
  body: string;
  type: KbsErrorType;
}

export function kbsError(type: KbsErrorType, detail: string): KbsErrorResponse {
  const status = type === 'InvalidRequestPath' || type === 'PluginNotFound' ? 404 : 401;
  return { status, type, body: JSON.stringify({ type: `${KBS_ERROR_PREFIX}${type}`, detail }) };
}
