// Test support: a minimal DER writer and the surgery the TDX parser tests need (swap one field of a certificate
// or CRL, then re-sign its to-be-signed part), so each malformed or unusual input differs from a valid one in
// exactly the field under test.
import { sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { children, oidBytes, readOnly } from '../../src/attestation/tdx/der.ts';

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** One element: tag, definite minimal length, content (byte arrays are concatenated). */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content);
  return new Uint8Array([tag, ...lengthBytes(body.length), ...body]);
}

export const seq = (...items: Uint8Array[]) => tlv(0x30, ...items);
export const set = (...items: Uint8Array[]) => tlv(0x31, ...items);
export const oid = (dotted: string) => tlv(0x06, oidBytes(dotted));
export const octets = (bytes: Uint8Array | number[]) => tlv(0x04, Uint8Array.from(bytes));
export const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
export const text = (s: string, encoding: BufferEncoding = 'latin1') => new Uint8Array(Buffer.from(s, encoding));

/** A non-negative INTEGER with its minimal encoding (a leading zero byte when the top bit is set). */
export function int(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  do {
    out.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if ((out[0] ?? 0) & 0x80) out.unshift(0);
  return tlv(0x02, Uint8Array.from(out));
}

/** The raw DER of each child of the SEQUENCE (or other constructed element) `der`. */
export function parts(der: Uint8Array): Uint8Array[] {
  return children(readOnly(der)).map((c) => new Uint8Array(c.raw));
}

/** SIGNED{…} ::= SEQUENCE { tbs, algorithm, BIT STRING signature }: `tbs` signed with ECDSA-SHA256 by `key`. */
export function signed(tbs: Uint8Array, key: KeyObject, algorithm: Uint8Array = seq(oid('1.2.840.10045.4.3.2'))): Uint8Array {
  const sig = sign('sha256', tbs, { key, dsaEncoding: 'der' });
  return seq(tbs, algorithm, tlv(0x03, Uint8Array.of(0), sig));
}

/**
 * Rebuilds the certificate or CRL `der` with its tbs fields passed through `edit` (a copy of the raw fields) and
 * re-signs it with `key`, so only the edited field differs.
 */
export function editTbs(der: Uint8Array, key: KeyObject, edit: (fields: Uint8Array[]) => Uint8Array[]): Uint8Array {
  const [tbs, alg] = parts(der) as [Uint8Array, Uint8Array];
  return signed(seq(...edit(parts(tbs))), key, alg);
}

/** Rebuilds `der` (a SEQUENCE) with its top-level elements passed through `edit`, without re-signing. */
export function editOuter(der: Uint8Array, edit: (fields: Uint8Array[]) => Uint8Array[]): Uint8Array {
  return seq(...edit(parts(der)));
}
