// Byte helpers and event decoding details that the fixture logs do not pin down on their own.
import { describe, expect, it } from 'vitest';
import { ByteReader, bytesEqual, fromHex, isAllZero } from './bytes.ts';
import { TdxError } from './errors.ts';
import { decodeEvent } from './ccel-events.ts';

const failure = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof TdxError ? { code: err.code, message: err.message } : String(err);
  }
  return 'no error';
};

describe('fromHex', () => {
  it('decodes even-length hex of either case unless lowercaseOnly', () => {
    expect([...fromHex('00aB', 'x', 'QuoteMalformed')]).toEqual([0x00, 0xab]);
    expect([...fromHex('', 'x', 'QuoteMalformed')]).toEqual([]);
    expect([...fromHex('0a1b', 'x', 'QuoteMalformed', true)]).toEqual([0x0a, 0x1b]);
  });

  for (const [text, lower] of [['abc', false], ['0g', false], [' 00', false], ['00 ', false], ['x00', false], ['00x', false], ['0A', true], ['abc', true]] as const) {
    it(`rejects ${JSON.stringify(text)}${lower ? ' (lowercase only)' : ''}, naming the field`, () => {
      expect(failure(() => fromHex(text, 'the field', 'TcbInfoMalformed', lower))).toEqual({ code: 'TcbInfoMalformed', message: 'the field is not a valid hex string' });
    });
  }
});

describe('ByteReader', () => {
  it('names the field, the size, the offset and what remains when data runs out', () => {
    const r = new ByteReader(new Uint8Array(5), 'the quote', 'QuoteTruncated');
    expect(r.u32('first')).toBe(0);
    expect(failure(() => r.u16('second'))).toEqual({ code: 'QuoteTruncated', message: 'the quote is truncated: field second needs 2 bytes at offset 4, only 1 remain' });
    expect(failure(() => r.bytes(-1, 'negative'))).toEqual({ code: 'QuoteTruncated', message: 'the quote is truncated: field negative needs -1 bytes at offset 4, only 1 remain' });
    r.offset = 7;
    expect(failure(() => r.bytes(1, 'past'))).toEqual({ code: 'QuoteTruncated', message: 'the quote is truncated: field past needs 1 bytes at offset 7, only 0 remain' });
  });

  it('reads little-endian fields and advances', () => {
    const r = new ByteReader(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]), 'x', 'QuoteMalformed');
    expect([r.u16('a'), r.u32('b'), r.u64('c'), r.remaining]).toEqual([0x0201, 0x06050403, 0x0e0d0c0b0a090807n, 0]);
    const short = new ByteReader(new Uint8Array(7), 'y', 'QuoteTruncated');
    expect(failure(() => short.u64('big'))).toEqual({ code: 'QuoteTruncated', message: 'y is truncated: field big needs 8 bytes at offset 0, only 7 remain' });
    expect(failure(() => new ByteReader(new Uint8Array(3), 'z', 'QuoteTruncated').u32('w'))).toEqual({ code: 'QuoteTruncated', message: 'z is truncated: field w needs 4 bytes at offset 0, only 3 remain' });
  });

  it('isAllZero', () => {
    expect([isAllZero(new Uint8Array(3)), isAllZero(Uint8Array.from([0, 0, 1])), isAllZero(new Uint8Array(0))]).toEqual([true, false, true]);
  });
});

describe('UEFI variable events', () => {
  it('spell the GUID in its mixed-endian text form', () => {
    // EFI_GLOBAL_VARIABLE 8be4df61-93ca-11d2-aa0d-00e098032b8c, name "A", 1 data byte.
    const guid = Buffer.from('61dfe48bca93d211aa0d00e098032b8c', 'hex');
    const data = Buffer.concat([guid, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('A\0', 'latin1'), Buffer.from([7])]);
    expect(decodeEvent(0x80000001, new Uint8Array(data))).toEqual({ kind: 'uefi_variable', guid: '8be4df61-93ca-11d2-aa0d-00e098032b8c', name: 'A', dataLength: 1 });
  });
});

describe('bytesEqual', () => {
  it('a prefix is not equal, in either order', () => {
    expect(bytesEqual(new Uint8Array([1]), new Uint8Array([1, 2]))).toBe(false);
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1]))).toBe(false);
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
  });
});
