// A minimal strict DER reader for the few X.509/CRL fields the chains need (names, extensions, CRL entries).
// Certificates themselves are parsed and signature-checked by node:crypto's X509Certificate; this avoids a
// generic ASN.1 object model on the cold path. Only low tag numbers and minimal definite lengths are accepted.

export interface Tlv {
  tag: number;
  /** The whole element (header + content). */
  raw: Uint8Array;
  /** The content octets. */
  value: Uint8Array;
}

export class DerError extends Error {}

export function readTlv(buf: Uint8Array, offset: number): Tlv {
  const tag = buf[offset];
  if (tag === undefined) throw new DerError(`no element at offset ${offset}`);
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used here');
  const first = buf[offset + 1];
  if (first === undefined) throw new DerError('truncated length');
  let len = first;
  let header = 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new DerError('indefinite or oversized length');
    len = 0;
    for (let i = 0; i < n; i++) {
      const b = buf[offset + 2 + i];
      if (b === undefined) throw new DerError('truncated length');
      if (i === 0 && b === 0) throw new DerError('non-minimal length');
      len = len * 256 + b;
    }
    if (len < 0x80) throw new DerError('non-minimal length');
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new DerError('element runs past the end of its container');
  return { tag, raw: buf.subarray(offset, end), value: buf.subarray(offset + header, end) };
}

/** The single element that must fill `buf` exactly. */
export function readOnly(buf: Uint8Array): Tlv {
  const t = readTlv(buf, 0);
  if (t.raw.length !== buf.length) throw new DerError('trailing bytes after the element');
  return t;
}

export function children(t: Tlv): Tlv[] {
  if ((t.tag & 0x20) === 0) throw new DerError(`tag 0x${t.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  let off = 0;
  while (off < t.value.length) {
    const c = readTlv(t.value, off);
    out.push(c);
    off += c.raw.length;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}`);
  return t;
}

/** Two ASCII digits at `i` as a number, or NaN. */
function digits2(v: Uint8Array, i: number): number {
  const a = (v[i] ?? 0) - 0x30;
  const b = (v[i + 1] ?? 0) - 0x30;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : NaN;
}

/** UTCTime (0x17, YYMMDDHHMMSSZ) or GeneralizedTime (0x18, YYYYMMDDHHMMSSZ) in the DER "Z" form. */
export function readTime(t: Tlv | undefined, what: string): Date {
  const v = t?.value;
  const utc = t?.tag === 0x17 && v?.length === 13;
  const gen = t?.tag === 0x18 && v?.length === 15;
  if (!v || (!utc && !gen) || v[v.length - 1] !== 0x5a) throw new DerError(`${what} is not a DER UTCTime/GeneralizedTime`);
  const o = utc ? 0 : 2;
  const first = digits2(v, 0);
  // RFC 5280: UTCTime years 50-99 are 19xx, 00-49 are 20xx.
  const year = utc ? (first >= 50 ? 1900 + first : 2000 + first) : first * 100 + digits2(v, 2);
  const [mo, d, h, mi, s] = [digits2(v, o + 2), digits2(v, o + 4), digits2(v, o + 6), digits2(v, o + 8), digits2(v, o + 10)] as [number, number, number, number, number];
  if ([year, mo, d, h, mi, s].some(Number.isNaN)) throw new DerError(`${what} is not a DER UTCTime/GeneralizedTime`);
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, s));
  if (Number.isNaN(date.getTime()) || date.getUTCMonth() !== mo - 1 || h > 23 || mi > 59 || s > 59) throw new DerError(`${what} is not a valid date`);
  return date;
}

/** DER encoding of an OBJECT IDENTIFIER's content octets from dotted text. */
export function oidBytes(dotted: string): Uint8Array {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [(parts[0] ?? 0) * 40 + (parts[1] ?? 0)];
  for (const p of parts.slice(2)) {
    const groups: number[] = [];
    let v = p;
    do {
      groups.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    groups.forEach((g, i) => out.push(i < groups.length - 1 ? g | 0x80 : g));
  }
  return new Uint8Array(out);
}

/** Dotted text of an OBJECT IDENTIFIER's content octets. */
export function oidText(bytes: Uint8Array): string {
  const parts: number[] = [Math.floor((bytes[0] ?? 0) / 40), (bytes[0] ?? 0) % 40];
  let v = 0;
  for (const b of bytes.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}
