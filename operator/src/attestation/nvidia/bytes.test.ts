import { describe, expect, it } from 'vitest';
import { failure } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { ByteReader, bytesEqual, decodeBase64, decodeHex, decodeHexOrBase64, toHex } from './bytes.ts';

const hex = (b: Uint8Array) => toHex(b);

describe('strict byte helpers', () => {
  it('decodes hex with surrounding whitespace, and refuses odd length or other characters', () => {
    expect(hex(decodeHex(' ab01\n', 'f'))).toBe('ab01');
    expect(failure(() => decodeHex('abc', 'field')).message).toBe('field is not valid hex (odd length or non-hex characters)');
    expect(failure(() => decodeHex('zz', 'field', 'RimMalformed')).code).toBe('RimMalformed');
  });

  it('decodes standard base64 (padded to a multiple of 4) or base64url, and nothing in between', () => {
    expect(hex(decodeBase64('q80=', 'f'))).toBe('abcd');
    expect(hex(decodeBase64(' q8\n0= ', 'f'))).toBe('abcd');
    expect(hex(decodeBase64('-_8', 'f'))).toBe('fbff');
    expect(hex(decodeBase64('q80', 'f'))).toBe('abcd');
    // '+' or '/' is standard-only, so it needs the padded length.
    expect(failure(() => decodeBase64('ab+', 'field')).message).toBe('field is not valid base64');
    expect(failure(() => decodeBase64('a=b=', 'field')).message).toBe('field is not valid base64');
  });

  it('tries hex first (after trimming), then base64', () => {
    expect(hex(decodeHexOrBase64('  abcd ', 'f'))).toBe('abcd');
    expect(hex(decodeHexOrBase64('q80=', 'f'))).toBe('abcd');
    expect(decodeHexOrBase64('', 'f')).toHaveLength(0);
  });

  it('compares lengths as well as bytes', () => {
    expect(bytesEqual(Uint8Array.from([1]), Uint8Array.from([1, 0]))).toBe(false);
    expect(bytesEqual(Uint8Array.from([1, 0]), Uint8Array.from([1]))).toBe(false);
    expect(bytesEqual(Uint8Array.from([1, 2]), Uint8Array.from([1, 2]))).toBe(true);
    expect(bytesEqual(Uint8Array.from([1, 2]), Uint8Array.from([1, 3]))).toBe(false);
  });

  it('reads little-endian fields and names the field it ran out at', () => {
    const r = new ByteReader(Uint8Array.from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xff]), 'SpdmMalformed');
    expect(r.u8('a')).toBe(0x01);
    expect(r.u16('b')).toBe(0x0302);
    expect(r.u24('c')).toBe(0x060504);
    expect(r.remaining).toBe(1);
    const err = failure(() => r.u16('the length'));
    expect(err.code).toBe('SpdmMalformed');
    expect(err.message).toBe('truncated at the length: need 2 bytes at offset 6, 1 left');
    expect(hex(r.take(1, 'last'))).toBe('ff');
  });
});
