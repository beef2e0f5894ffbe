// KBS 0.4.0 runtime-data binding: the report data a TEE puts in its evidence is SHA-384 over the RFC 8785
// (JCS) canonical JSON of the runtime data. The primary (CPU) evidence covers the additional-evidence string
// too, so one quote transitively covers every device; each device covers only {nonce, tee-pubkey}.
// Resource injection (challenge mode) binds {nonce, tee-pubkey} exactly like a device does.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { TeePubKey } from './tee-key.ts';

/** SHA-384 of the JCS form of a JSON value (the AS `RuntimeData::Structured` hash). */
export function jcsSha384(value: unknown): Buffer {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return createHash('sha384').update(text, 'utf8').digest();
}

/** Report data of the primary evidence: SHA-384(JCS({nonce, tee-pubkey, additional-evidence})). */
export function primaryReportData(nonce: string, teePubkey: TeePubKey, additionalEvidence: string): Buffer {
  return jcsSha384({ nonce, 'tee-pubkey': teePubkey, 'additional-evidence': additionalEvidence });
}

/** Report data of each additional (device) evidence and of resource-injection evidence: SHA-384(JCS({nonce, tee-pubkey})). */
export function deviceReportData(nonce: string, teePubkey: TeePubKey): Buffer {
  return jcsSha384({ nonce, 'tee-pubkey': teePubkey });
}
