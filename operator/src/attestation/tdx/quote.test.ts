import { describe, expect, it } from 'vitest';
import { readFixture } from '../../../test/fixtures/tdx/fixtures.ts';
import { parseTdxQuote } from './quote.ts';
import { TdxError } from './errors.ts';

const v4 = readFixture('v4-b0c06f000000-phala', 'quote.bin');
const v5 = readFixture('v5-90c06f000000', 'quote_trustee_tdx_quote_5.bin');
const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

function edit(q: Uint8Array, at: number, bytes: number[]): Uint8Array {
  const c = new Uint8Array(q);
  c.set(bytes, at);
  return c;
}
function failure(q: Uint8Array): { code: string; message: string } | 'parsed' {
  try {
    parseTdxQuote(q);
    return 'parsed';
  } catch (err) {
    if (!(err instanceof TdxError)) throw err;
    return { code: err.code, message: err.message };
  }
}

describe('parseTdxQuote', () => {
  it('parses a v4 quote (TD 1.0 body) at the documented offsets', () => {
    const q = parseTdxQuote(v4);
    expect(q.header.version).toBe(4);
    expect(q.body.bodyType).toBe(2);
    expect(q.signedRegion.length).toBe(632);
    expect(hex(q.body.teeTcbSvn)).toBe('06010300000000000000000000000000');
    expect(hex(q.body.mrTd)).toBe(hex(v4.subarray(184, 232)));
    expect(hex(q.body.rtmrs[0])).toBe(hex(v4.subarray(376, 424)));
    expect(hex(q.body.reportData)).toBe(hex(v4.subarray(568, 632)));
    expect(q.body.teeTcbSvn2).toBeUndefined();
    expect(q.qeAuthData.length).toBe(32);
    expect(q.pckChainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    expect(q.trailingBytes).toBe(70);
  });

  it('parses a v5 quote with a TD 1.5 body (TEE_TCB_SVN2, MRSERVICETD)', () => {
    const q = parseTdxQuote(v5);
    expect(q.header.version).toBe(5);
    expect(q.body.bodyType).toBe(3);
    expect(q.signedRegion.length).toBe(48 + 6 + 648);
    expect(hex(q.body.teeTcbSvn2)).toBe('05010200000000000000000000000000');
    expect(hex(q.body.mrServiceTd)).toBe('383c87d3bbb047b2d171eaca95312ede99f258088dc788f6ae2ccf8b6dd848fe8d47629e08b3f6cbd4a00dd47a5a033d');
    expect(q.trailingBytes).toBe(0);
  });

  it('rejects unsupported header values, naming the field', () => {
    expect(failure(readFixture('sgx-v3-00a067110000-phala', 'quote.bin'))).toMatchObject({ code: 'QuoteUnsupportedVersion', message: /header.version is 3/ });
    expect(failure(edit(v4, 2, [3, 0]))).toMatchObject({ code: 'QuoteUnsupportedKeyType', message: /att_key_type is 3/ });
    expect(failure(edit(v4, 4, [0, 0, 0, 0]))).toMatchObject({ code: 'QuoteUnsupportedTeeType', message: /tee_type is 0x0/ });
    expect(failure(edit(v4, 12, [0]))).toMatchObject({ code: 'QuoteVendorMismatch' });
    expect(failure(edit(v5, 48, [1, 0]))).toMatchObject({ code: 'QuoteUnsupportedBodyType', message: /type 1 size 648/ });
    expect(failure(edit(v5, 50, [0x49, 2, 0, 0]))).toMatchObject({ code: 'QuoteUnsupportedBodyType' });
  });

  it('rejects certification data other than type 6 with a nested PCK chain (type 5)', () => {
    const sigStart = 632 + 4;
    expect(failure(edit(v4, sigStart + 128, [5, 0]))).toMatchObject({ code: 'CertificationDataUnsupported', message: /type is 5; expected 6/ });
    const q = parseTdxQuote(v4);
    const innerType = q.qeAuthData.byteOffset - v4.byteOffset + q.qeAuthData.length;
    expect(failure(edit(v4, innerType, [3, 0]))).toMatchObject({ code: 'CertificationDataUnsupported', message: /type is 3/ });
  });

  it('rejects inconsistent sizes instead of trusting them', () => {
    const sigLen = new DataView(v4.buffer, v4.byteOffset).getUint32(632, true);
    expect(failure(edit(v4, 632, [...Buffer.from(new Uint32Array([sigLen + 1]).buffer)]))).toMatchObject({ code: 'QuoteMalformed', message: /sizes are inconsistent/ });
    expect(failure(edit(v4, 632, [0xff, 0xff, 0xff, 0x7f]))).toMatchObject({ code: 'QuoteTruncated', message: /signature_data needs/ });
  });

  it('never throws anything but TdxError on empty or random input', () => {
    expect(failure(new Uint8Array())).toMatchObject({ code: 'QuoteTruncated' });
    let seed = 7;
    for (let i = 0; i < 200; i++) {
      const junk = new Uint8Array(8 + (i * 37) % 6000).map(() => (seed = (seed * 1103515245 + 12345) & 0xff));
      junk.set([4, 0, 2, 0, 0x81, 0, 0, 0]);
      expect(failure(junk)).not.toBe('parsed');
    }
  });
});
