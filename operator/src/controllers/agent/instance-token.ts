// The idempotency token for an agent's instance: the same object and instance spec always yield the
// same token, so a create retried after a lost response or an operator crash finds the first instance
// instead of launching a second. Alibaba ClientToken allows at most 64 ASCII characters.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

// `initDataDigest` (the sandbox policy digest the instance launches with) is mixed in only when set, so
// tokens of agents without a sandbox policy are unchanged.
export function instanceToken(uid: string, instanceSpec: unknown, initDataDigest?: string): string {
  const canonical = canonicalize(instanceSpec) ?? 'null';
  const h = createHash('sha256').update(uid).update('\0').update(canonical);
  if (initDataDigest !== undefined) h.update('\0init-data\0').update(initDataDigest);
  return `cai-${h.digest('hex').slice(0, 48)}`;
}
