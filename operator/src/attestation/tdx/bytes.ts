// Small byte helpers: a bounds-checked little-endian reader and hex conversions.
import { TdxError } from './errors.ts';
import type { TdxErrorCode } from './errors.ts';

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Strict hex decoding: even length, only [0-9a-fA-F]; `lowercaseOnly` also rejects upper case. */
export function fromHex(text: string, what: string, code: TdxErrorCode, lowercaseOnly = false): Uint8Array {
  const pattern = lowercaseOnly ? /^(?:[0-9a-f]{2})*$/ : /^(?:[0-9a-fA-F]{2})*$/;
  if (!pattern.test(text)) throw new TdxError(code, `${what} is not a valid hex string`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isAllZero(a: Uint8Array): boolean {
  for (const b of a) if (b !== 0) return false;
  return true;
}

/** Reads fields in order; every read checks bounds and names the field when data runs out. */
export class ByteReader {
  readonly data: Uint8Array;
  offset: number;
  private readonly view: DataView;
  private readonly code: TdxErrorCode;
  private readonly what: string;

  constructor(data: Uint8Array, what: string, code: TdxErrorCode, offset = 0) {
    this.data = data;
    this.offset = offset;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.code = code;
    this.what = what;
  }

  get remaining(): number {
    return this.data.length - this.offset;
  }

  private need(n: number, field: string): void {
    if (n < 0 || this.offset + n > this.data.length) {
      throw new TdxError(
        this.code,
        `${this.what} is truncated: field ${field} needs ${n} bytes at offset ${this.offset}, only ${Math.max(0, this.remaining)} remain`,
      );
    }
  }

  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }

  u64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return v;
  }
}
