// The one line `cai` prints for an error that escaped a command. Node's fetch reports an unreachable
// server as a bare "fetch failed" and keeps the reason in `cause` (ECONNREFUSED with the address, a TLS
// error…); without it an operator started while the API server is down says only "fetch failed".
const MAX_CAUSES = 3;

export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const parts = [err.message];
  let cause: unknown = err.cause;
  for (let i = 0; i < MAX_CAUSES && cause instanceof Error; i++) {
    if (cause.message && !parts.includes(cause.message)) parts.push(cause.message);
    cause = cause.cause;
  }
  return parts.length === 1 ? parts[0]! : `${parts[0]} (${parts.slice(1).join(': ')})`;
}
