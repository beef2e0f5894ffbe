// ECDSA-SHA256 verification of a raw r‖s signature (quotes, QE reports, Intel's signed JSON). node:crypto's
// `dsaEncoding: 'ieee-p1363'` option costs about a third more per verify than handing it DER, so the 64 bytes
// are re-encoded here as the DER SEQUENCE { r INTEGER, s INTEGER } (at most 72 bytes, short-form lengths).
import { verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

function derInteger(out: number[], n: Uint8Array): void {
  let i = 0;
  while (i < n.length - 1 && n[i] === 0) i++;
  const pad = ((n[i] ?? 0) & 0x80) !== 0 ? 1 : 0;
  out.push(0x02, n.length - i + pad);
  if (pad) out.push(0);
  for (; i < n.length; i++) out.push(n[i] ?? 0);
}

/** DER encoding of a raw (IEEE P1363) ECDSA signature r‖s with equal halves. */
export function rawToDerSignature(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0 || raw.length > 132) throw new RangeError('a raw ECDSA signature is two equal halves');
  const body: number[] = [];
  derInteger(body, raw.subarray(0, raw.length / 2));
  derInteger(body, raw.subarray(raw.length / 2));
  return Uint8Array.from([0x30, body.length, ...body]);
}

/** Whether `raw` (r‖s) is a valid ECDSA-SHA256 signature over `data` by `key`. */
export function verifyRawEcdsaSha256(data: Uint8Array, key: KeyObject, raw: Uint8Array): boolean {
  return verify('sha256', data, key, rawToDerSignature(raw));
}
