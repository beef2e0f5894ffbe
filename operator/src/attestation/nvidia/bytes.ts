// Strict byte helpers: hex/base64 decoding that rejects junk, and a bounds-checked little-endian reader.
import { NvidiaError, type NvidiaErrorCode } from './errors.ts';

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function decodeHex(text: string, field: string, code: NvidiaErrorCode = 'EvidenceMalformed'): Uint8Array {
  const t = text.trim();
  if (!HEX.test(t)) throw new NvidiaError(code, `${field} is not valid hex (odd length or non-hex characters)`);
  return new Uint8Array(Buffer.from(t, 'hex'));
}

export function decodeBase64(text: string, field: string, code: NvidiaErrorCode = 'EvidenceMalformed'): Uint8Array {
  const t = text.replace(/\s+/g, '');
  const standard = BASE64.test(t) && t.length % 4 === 0;
  if (!standard && !BASE64URL.test(t)) throw new NvidiaError(code, `${field} is not valid base64`);
  return new Uint8Array(Buffer.from(t, standard ? 'base64' : 'base64url'));
}

/** Evidence strings are base64 per KBS; trustee also accepts hex, so do we (hex is tried first: it is unambiguous). */
export function decodeHexOrBase64(text: string, field: string): Uint8Array {
  const t = text.trim();
  if (t.length > 0 && HEX.test(t)) return decodeHex(t, field);
  return decodeBase64(t, field);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** Sequential reader; every read checks bounds and names the field it was reading. */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly code: NvidiaErrorCode;
  offset = 0;

  constructor(bytes: Uint8Array, code: NvidiaErrorCode) {
    this.bytes = bytes;
    this.code = code;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(n: number, field: string): void {
    if (n > this.remaining) {
      throw new NvidiaError(this.code, `truncated at ${field}: need ${n} bytes at offset ${this.offset}, ${this.remaining} left`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.bytes[this.offset++] ?? 0;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = (this.bytes[this.offset] ?? 0) | ((this.bytes[this.offset + 1] ?? 0) << 8);
    this.offset += 2;
    return v;
  }

  u24(field: string): number {
    this.need(3, field);
    const b = this.bytes;
    const v = (b[this.offset] ?? 0) | ((b[this.offset + 1] ?? 0) << 8) | ((b[this.offset + 2] ?? 0) << 16);
    this.offset += 3;
    return v;
  }

  take(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
}
