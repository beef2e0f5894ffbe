// Classifies anything the ECS SDK (or the network under it) throws into one ProviderError kind, once,
// so the controller never parses provider messages. Messages are redacted before they leave here:
// provider messages sometimes echo the AccessKey ID, and SDK errors can carry request details.
import { ProviderError, type ProviderErrorKind } from '../provider.ts';

const RETRYABLE_CODES = new Set([
  'Throttling',
  'OperationConflict',
  'IdempotentProcessing',
  'LastTokenProcessing',
  'ServiceUnavailable',
  'InternalError',
  'SystemBusy',
  'DependencyViolation',
  'UnknownError',
]);
const CAPACITY_CODES = new Set([
  'OperationDenied.NoStock',
  'Zone.NotOnSale',
  'InvalidVSwitchId.IpNotEnough',
  'InsufficientBalance',
  'InvalidResourceType.NotSupported', // the type/zone is not allow-listed (e.g. grayBizType gray_tdx)
  'ResourceNotAvailable',
]);
const QUOTA_PREFIXES = ['QuotaExceed', 'QuotaExceeded'];
const AUTH_PREFIXES = [
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidSecurityToken',
  'Forbidden',
  'InvalidCredentials',
  'NoPermission',
  'IncompleteSignature',
  'InvalidAccountStatus',
];
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET']);

/** Codes that say "the instance/resource does not exist": success for delete, undefined for describe. */
export function isNotFoundCode(code: string): boolean {
  return code === 'InvalidInstanceId.NotFound' || code === 'InvalidInstanceId.NotExist';
}

export function isThrottlingCode(code: string): boolean {
  return code === 'Throttling' || code.startsWith('Throttling.');
}

/** Kind for a provider error code (and HTTP status when known). Pure. */
export function kindForCode(code: string, statusCode?: number): ProviderErrorKind {
  if (isThrottlingCode(code) || RETRYABLE_CODES.has(code) || code.startsWith('IncorrectInstanceStatus')) return 'Retryable';
  if (CAPACITY_CODES.has(code)) return 'Capacity';
  if (QUOTA_PREFIXES.some((p) => code === p || code.startsWith(`${p}.`))) return 'Quota';
  if (AUTH_PREFIXES.some((p) => code === p || code.startsWith(`${p}.`))) return 'Auth';
  if (isNotFoundCode(code)) return 'NotFound';
  if (statusCode !== undefined && statusCode >= 500) return 'Retryable';
  // Everything else (InvalidParameter, InvalidImage.NotFound, IdempotentParameterMismatch, ...) cannot
  // succeed as written.
  return 'InvalidSpec';
}

const secrets = new Set<string>();

/** Registers a credential value that must never appear in an error message (AccessKey ID/secret, STS token). */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 8 || secrets.has(value)) return;
  secrets.add(value);
  // Rotating STS credentials add a value per rotation: keep the most recent ones only.
  if (secrets.size > 64) secrets.delete(secrets.values().next().value as string);
}

/** Removes registered secrets and anything shaped like an Alibaba AccessKey ID or signature from text. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('[REDACTED]');
  return out
    .replace(/LTAI[A-Za-z0-9]{8,}/g, '[REDACTED]')
    .replace(/STS\.[A-Za-z0-9]{8,}/g, '[REDACTED]')
    .replace(/(Credential=|Signature=|AccessKeyId=|SecurityToken=)[^,\s&"]+/gi, '$1[REDACTED]');
}

interface ErrorShape {
  code?: unknown;
  statusCode?: unknown;
  requestId?: unknown;
  message?: unknown;
  name?: unknown;
  data?: unknown;
  cause?: unknown;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function dataField(data: unknown, key: string): string | undefined {
  return data !== null && typeof data === 'object' ? str((data as Record<string, unknown>)[key]) : undefined;
}

/** Turns anything thrown during an ECS call into a ProviderError (kind + provider code + request id). */
export function classifyError(err: unknown, action: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const e: ErrorShape = err !== null && typeof err === 'object' ? (err as ErrorShape) : {};
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const requestId = str(e.requestId) ?? dataField(e.data, 'RequestId');
  const providerCode = dataField(e.data, 'Code') ?? (status !== undefined ? str(e.code) : undefined);
  if (providerCode) {
    const providerMessage = dataField(e.data, 'Message') ?? '';
    // The code and request id travel as fields; the message says which call failed and why.
    const text = `${action} failed${providerMessage ? `: ${providerMessage}` : ` with ${providerCode}`}`;
    return new ProviderError(kindForCode(providerCode, status), providerCode, redact(text), requestId);
  }
  const netCode = str(e.code) ?? str((e.cause as ErrorShape | undefined)?.code);
  const name = str(e.name) ?? '';
  const message = str(e.message) ?? String(err);
  if ((netCode && NETWORK_CODES.has(netCode)) || /timeout|socket hang up|ECONN|network/i.test(`${name} ${message}`)) {
    return new ProviderError('Retryable', 'NetworkError', redact(`${action} failed: no response (${netCode ?? name}): ${message}`));
  }
  if (status !== undefined && status >= 500) {
    return new ProviderError('Retryable', `HTTP${status}`, redact(`${action} failed with HTTP ${status}`), requestId);
  }
  if (/credential|accesskey/i.test(message)) {
    return new ProviderError('Auth', 'InvalidCredentials', redact(`${action} failed: credentials unavailable: ${message}`));
  }
  return new ProviderError('Retryable', 'UnknownError', redact(`${action} failed: ${message}`), requestId);
}
