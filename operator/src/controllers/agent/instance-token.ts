// The idempotency token for an agent's instance: the same object and instance spec always yield the
// same token, so a create retried after a lost response or an operator crash finds the first instance
// instead of launching a second. Alibaba ClientToken allows at most 64 ASCII characters.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

export function instanceToken(uid: string, instanceSpec: unknown): string {
  const canonical = canonicalize(instanceSpec) ?? 'null';
  return `cai-${createHash('sha256').update(uid).update('\0').update(canonical).digest('hex').slice(0, 48)}`;
}
