import { describe, expect, it } from 'vitest';
import { readFixture } from '../../../test/fixtures/tdx/fixtures.ts';
import { parseEnclaveReport, parseTdxQuote } from './quote.ts';
import { TdxError } from './errors.ts';

const v4 = readFixture('v4-b0c06f000000-phala', 'quote.bin');
const v5 = readFixture('v5-90c06f000000', 'quote_trustee_tdx_quote_5.bin');
const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

function edit(q: Uint8Array, at: number, bytes: number[]): Uint8Array {
  const c = new Uint8Array(q);
  c.set(bytes, at);
  return c;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
/** The v4 quote's certification data (type 6) body: QE report, its signature, auth data, PCK chain (type 5). */
const certBody = (() => {
  const sigData = v4.subarray(636);
  const size = new DataView(sigData.buffer, sigData.byteOffset).getUint32(130, true);
  return sigData.subarray(134, 134 + size);
})();
/** Header and body of `q` with new type-6 certification data made of `parts`, every outer size consistent. */
function withCertBody(q: Uint8Array, ...parts: (Uint8Array | number[])[]): Buffer {
  const body = Buffer.concat(parts.map((p) => Buffer.from(p)));
  const sig = q.subarray(636, 636 + 128);
  return Buffer.concat([q.subarray(0, 632), u32(128 + 6 + body.length), sig, Buffer.from([6, 0]), u32(body.length), body]);
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

  // toMatchObject({ message: /re/ }) would pass for any message (a RegExp has no own keys), so messages are exact.
  it('rejects unsupported header values, naming the field', () => {
    expect(failure(readFixture('sgx-v3-00a067110000-phala', 'quote.bin'))).toEqual({
      code: 'QuoteUnsupportedVersion',
      message: 'quote header.version is 3; only TDX quote versions 4 and 5 are supported',
    });
    expect(failure(edit(v4, 2, [3, 0]))).toEqual({ code: 'QuoteUnsupportedKeyType', message: 'quote header.att_key_type is 3; only 2 (ECDSA-256 with P-256) is supported' });
    expect(failure(edit(v4, 4, [0x82, 0, 0, 0]))).toEqual({ code: 'QuoteUnsupportedTeeType', message: 'quote header.tee_type is 0x82; expected 0x81 (TDX)' });
    expect(failure(edit(v4, 12, [0]))).toEqual({ code: 'QuoteVendorMismatch', message: 'quote header.qe_vendor_id is not the Intel QE vendor ID' });
    const bodyType = (type: number, size: number) => ({
      code: 'QuoteUnsupportedBodyType',
      message: `quote v5 body descriptor is type ${type} size ${size}; expected TD report 1.0 (2, 584) or 1.5 (3, 648)`,
    });
    expect(failure(edit(v5, 48, [1, 0]))).toEqual(bodyType(1, 648));
    expect(failure(edit(v5, 50, [0x49, 2, 0, 0]))).toEqual(bodyType(3, 585));
    // Type and size must agree: neither alone selects a body layout.
    expect(failure(edit(v5, 48, [2, 0]))).toEqual(bodyType(2, 648));
    expect(failure(edit(v5, 50, [0x48, 2, 0, 0]))).toEqual(bodyType(3, 584));
  });

  it('reads a v5 quote whose body descriptor says TD report 1.0 (type 2, 584 bytes)', () => {
    const v5td10 = Buffer.concat([v4.subarray(0, 48), Buffer.from([2, 0, 0x48, 2, 0, 0]), v4.subarray(48)]);
    v5td10.writeUInt16LE(5, 0);
    const q = parseTdxQuote(v5td10);
    expect(q.header.version).toBe(5);
    expect(q.body.bodyType).toBe(2);
    expect(q.signedRegion.length).toBe(48 + 6 + 584);
    expect(hex(q.body.reportData)).toBe(hex(v4.subarray(568, 632)));
    expect(q.body.teeTcbSvn2).toBeUndefined();
  });

  it('rejects certification data other than type 6 with a nested PCK chain (type 5)', () => {
    const sigStart = 632 + 4;
    expect(failure(edit(v4, sigStart + 128, [5, 0]))).toEqual({
      code: 'CertificationDataUnsupported',
      message: 'quote certification data type is 5; expected 6 (QE report certification data)',
    });
    expect(failure(withCertBody(v4, certBody.subarray(0, 482), [3, 0], certBody.subarray(484)))).toEqual({
      code: 'CertificationDataUnsupported',
      message: 'quote certification data type is 3; only 5 (PCK certificate chain) is supported, other types need a PCK certificate fetch',
    });
  });

  it('rejects inconsistent sizes instead of trusting them', () => {
    const sigLen = new DataView(v4.buffer, v4.byteOffset).getUint32(632, true);
    expect(failure(edit(v4, 632, [...Buffer.from(new Uint32Array([sigLen + 1]).buffer)]))).toEqual({
      code: 'QuoteMalformed',
      message: 'quote signature data has 1 bytes after the certification data; sizes are inconsistent',
    });
    expect(failure(edit(v4, 632, [0xff, 0xff, 0xff, 0x7f]))).toEqual({
      code: 'QuoteTruncated',
      message: `quote is truncated: field signature_data needs ${0x7fffffff} bytes at offset 636, only ${v4.length - 636} remain`,
    });
    // A PCK chain size smaller than the certification data leaves bytes nobody accounts for.
    const chainLen = certBody.length - 488;
    expect(failure(withCertBody(v4, certBody.subarray(0, 484), u32(chainLen - 3), certBody.subarray(488)))).toEqual({
      code: 'QuoteMalformed',
      message: 'QE certification data has 3 bytes after the PCK chain; sizes are inconsistent',
    });
  });

  it('names the field, the reader and the offset when the quote ends early', () => {
    // [offset in the quote, field, bytes needed]: every header and TD report field, read in order.
    const v4Fields: [number, string, number][] = [
      [0, 'header.version', 2], [2, 'header.att_key_type', 2], [4, 'header.tee_type', 4], [8, 'header.qe_svn', 2],
      [10, 'header.pce_svn', 2], [12, 'header.qe_vendor_id', 16], [28, 'header.user_data', 20],
      [48, 'td_report.tee_tcb_svn', 16], [64, 'td_report.mr_seam', 48], [112, 'td_report.mr_signer_seam', 48],
      [160, 'td_report.seam_attributes', 8], [168, 'td_report.td_attributes', 8], [176, 'td_report.xfam', 8],
      [184, 'td_report.mr_td', 48], [232, 'td_report.mr_config_id', 48], [280, 'td_report.mr_owner', 48],
      [328, 'td_report.mr_owner_config', 48], [376, 'td_report.rtmr0', 48], [424, 'td_report.rtmr1', 48],
      [472, 'td_report.rtmr2', 48], [520, 'td_report.rtmr3', 48], [568, 'td_report.report_data', 64],
      [632, 'signature_data.size', 4],
    ];
    const v5Fields: [number, string, number][] = [
      [48, 'body_descriptor.type', 2], [50, 'body_descriptor.size', 4], [638, 'td_report.tee_tcb_svn2', 16], [654, 'td_report.mr_servicetd', 48],
    ];
    for (const [q, fields] of [[v4, v4Fields], [v5, v5Fields]] as const) {
      for (const [at, field, n] of fields) {
        expect(failure(q.subarray(0, at)), field).toEqual({ code: 'QuoteTruncated', message: `quote is truncated: field ${field} needs ${n} bytes at offset ${at}, only 0 remain` });
      }
    }
    // Inside the signature data (its size says where it ends, so it is cut there).
    const sigFields: [number, string, number][] = [
      [0, 'signature_data.signature', 64], [64, 'signature_data.attestation_key', 64], [128, 'certification_data.type', 2],
      [130, 'certification_data.size', 4], [134, 'certification_data.body', certBody.length],
    ];
    const sigData = v4.subarray(636, 636 + 134 + certBody.length);
    for (const [at, field, n] of sigFields) {
      expect(failure(Buffer.concat([v4.subarray(0, 632), u32(at), sigData.subarray(0, at)])), field).toEqual({
        code: 'QuoteTruncated',
        message: `quote signature data is truncated: field ${field} needs ${n} bytes at offset ${at}, only 0 remain`,
      });
    }
    // Inside the QE certification data (type 6), cut with consistent outer sizes.
    const qeFields: [number, string, number][] = [
      [0, 'qe_report', 384], [384, 'qe_report_signature', 64], [448, 'qe_auth_data.size', 2], [450, 'qe_auth_data', 32],
      [482, 'pck_cert_data.type', 2], [484, 'pck_cert_data.size', 4], [488, 'pck_cert_data.chain', certBody.length - 488],
    ];
    for (const [at, field, n] of qeFields) {
      expect(failure(withCertBody(v4, certBody.subarray(0, at))), field).toEqual({
        code: 'QuoteTruncated',
        message: `QE certification data is truncated: field ${field} needs ${n} bytes at offset ${at}, only 0 remain`,
      });
    }
  });

  it('names the QE report field when a QE report is short', () => {
    const raw = parseTdxQuote(v4).qeReport.raw;
    const fields: [number, string, number][] = [
      [0, 'cpu_svn', 16], [16, 'misc_select', 4], [20, 'reserved1', 28], [48, 'attributes', 16], [64, 'mr_enclave', 32],
      [96, 'reserved2', 32], [128, 'mr_signer', 32], [160, 'reserved3', 96], [256, 'isv_prod_id', 2], [258, 'isv_svn', 2],
      [260, 'reserved4', 60], [320, 'report_data', 64],
    ];
    for (const [at, field, n] of fields) {
      let got: unknown;
      try {
        parseEnclaveReport(raw.subarray(0, at));
      } catch (err) {
        got = err instanceof TdxError ? { code: err.code, message: err.message } : err;
      }
      expect(got, field).toEqual({ code: 'QuoteTruncated', message: `QE report is truncated: field qe_report.${field} needs ${n} bytes at offset ${at}, only 0 remain` });
    }
  });

  it('takes the PCK chain as strict UTF-8 and strips only its trailing NUL padding', () => {
    const q = parseTdxQuote(v4);
    const chain = Buffer.from(q.pckChainPem, 'utf8');
    const withChain = (c: Uint8Array) => withCertBody(v4, certBody.subarray(0, 484), u32(c.length), c);
    expect(parseTdxQuote(withChain(Buffer.concat([chain, Buffer.alloc(3)]))).pckChainPem).toBe(q.pckChainPem);
    // An interior NUL is kept (the PEM parser then refuses the chain); only the padding run at the end goes.
    const interior = Buffer.concat([chain.subarray(0, 10), Buffer.alloc(1), chain.subarray(10), Buffer.alloc(2)]);
    expect(parseTdxQuote(withChain(interior)).pckChainPem).toBe(`${q.pckChainPem.slice(0, 10)}\0${q.pckChainPem.slice(10)}`);
    const bad = Buffer.from(chain);
    bad[40] = 0xff;
    expect(failure(withChain(bad))).toEqual({
      code: 'QuoteMalformed',
      message: 'quote could not be parsed: The encoded data was not valid for encoding utf-8',
    });
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
