// Typed runtime errors with stable codes, and helpers to classify client-node ApiExceptions.

export type RuntimeErrorCode =
  | 'CONFLICT' // 409: optimistic-concurrency precondition failed; requeue and retry from fresh state
  | 'NOT_FOUND' // 404
  | 'GONE' // 410: resourceVersion too old
  | 'API_ERROR' // any other API server answer
  | 'INVALID_ARGUMENT' // a caller passed something the runtime cannot act on
  | 'TIMEOUT'
  | 'LEADERSHIP_LOST'
  | 'ABORTED'; // the reconcile's signal fired (controller stopping, leadership lost)

export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  /** When set, the controller requeues the key after this delay instead of rate-limited backoff. */
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;

  constructor(code: RuntimeErrorCode, message: string, opts: { cause?: unknown; retryAfterMs?: number; status?: number } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RuntimeError';
    this.code = code;
    this.retryAfterMs = opts.retryAfterMs;
    this.status = opts.status;
  }
}

/** HTTP status carried by a client-node ApiException (.code), a watch error (.statusCode) or a RuntimeError. */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown; status?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (err instanceof RuntimeError && typeof e.status === 'number') return e.status;
  return undefined;
}

export const isConflict = (err: unknown): boolean => httpStatusOf(err) === 409 || (err instanceof RuntimeError && err.code === 'CONFLICT');
export const isNotFound = (err: unknown): boolean => httpStatusOf(err) === 404 || (err instanceof RuntimeError && err.code === 'NOT_FOUND');

/** retryAfterMs on any error object (the controller contract: such an error requeues after that delay). */
export function retryAfterOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const v = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/**
 * A short, log-safe description of an error: message (first line, capped) and status. client-node's
 * ApiException message embeds the whole response body and headers; we never log those wholesale.
 */
export function describeError(err: unknown): { message: string; status?: number; code?: string } {
  const status = httpStatusOf(err);
  let message: string;
  if (typeof err === 'object' && err !== null && 'body' in err && status !== undefined) {
    const body = (err as { body?: unknown }).body;
    const parsed = typeof body === 'string' ? safeJson(body) : body;
    const m = typeof parsed === 'object' && parsed !== null ? (parsed as { message?: unknown }).message : undefined;
    message = typeof m === 'string' ? m : `HTTP ${status}`;
  } else if (err instanceof Error) {
    message = err.message;
  } else {
    message = String(err);
  }
  message = (message.split('\n')[0] ?? '').slice(0, 500);
  const out: { message: string; status?: number; code?: string } = { message };
  if (status !== undefined) out.status = status;
  if (err instanceof RuntimeError) out.code = err.code;
  else if (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string') out.code = (err as { code: string }).code;
  return out;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** Wraps a client-node failure into a RuntimeError with the right code (409 → CONFLICT, ...). */
export function toRuntimeError(err: unknown, what: string): RuntimeError {
  if (err instanceof RuntimeError) return err;
  const status = httpStatusOf(err);
  const d = describeError(err);
  const code: RuntimeErrorCode = status === 409 ? 'CONFLICT' : status === 404 ? 'NOT_FOUND' : status === 410 ? 'GONE' : 'API_ERROR';
  return new RuntimeError(code, `${what}: ${d.message}`, status === undefined ? { cause: err } : { cause: err, status });
}
