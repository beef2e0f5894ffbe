import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DerError, children, expectTag, oidBytes, readOnly, readTime, readTlv } from './der.ts';
import { parseCrl, parsePemChain } from './x509.ts';
import { TdxError } from './errors.ts';
import { extractSignedJson, topLevelSpans } from './signed-json.ts';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';

const b = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof TdxError ? err.code : err instanceof DerError ? 'DerError' : 'other';
  }
  return 'none';
};

describe('strict DER reader', () => {
  it('reads short and long lengths and nested elements', () => {
    const t = readOnly(b('3006020101020102'));
    expect(children(t).map((c) => c.tag)).toEqual([2, 2]);
    expect(readTlv(b('04820100' + '00'.repeat(256)), 0).value.length).toBe(256);
  });
  it('rejects non-minimal, indefinite, oversized and overrunning lengths, and trailing bytes', () => {
    expect(code(() => readTlv(b('048101ff'), 0))).toBe('DerError');
    expect(code(() => readTlv(b('0480'), 0))).toBe('DerError');
    expect(code(() => readTlv(b('0485000000000001'), 0))).toBe('DerError');
    expect(code(() => readTlv(b('0405ff'), 0))).toBe('DerError');
    expect(code(() => readOnly(b('040100ff')))).toBe('DerError');
    expect(code(() => readTlv(b('1f01'), 0))).toBe('DerError');
  });
  it('parses UTCTime/GeneralizedTime and rejects impossible dates', () => {
    expect(readTime(readTlv(b(Buffer.from('\x17\x0d250701000000Z', 'latin1').toString('hex')), 0), 't').toISOString()).toBe('2025-07-01T00:00:00.000Z');
    expect(readTime(readTlv(b(Buffer.from('\x18\x0f20491231235959Z', 'latin1').toString('hex')), 0), 't').toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(code(() => readTime(readTlv(b(Buffer.from('\x17\x0d250230000000Z', 'latin1').toString('hex')), 0), 't'))).toBe('DerError');
    expect(code(() => readTime(readTlv(b(Buffer.from('\x17\x0b2507010000Z', 'latin1').toString('hex')), 0), 't'))).toBe('DerError');
  });
  it('encodes OIDs', () => {
    expect(Buffer.from(oidBytes('1.2.840.10045.4.3.2')).toString('hex')).toBe('2a8648ce3d040302');
  });
});

describe('certificate and CRL parsers reject bad input with a code', () => {
  it('PEM lists', () => {
    expect(code(() => parsePemChain('', 'x'))).toBe('CertificateMalformed');
    expect(code(() => parsePemChain('junk', 'x'))).toBe('CertificateMalformed');
    expect(code(() => parsePemChain('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 'x'))).toBe('CertificateMalformed');
    expect(code(() => parsePemChain('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----', 'x'))).toBe('CertificateMalformed');
    const root = readFileSync(join(TDX_FIXTURES, 'common', 'intel_sgx_root_ca.pem'), 'utf8');
    expect(parsePemChain(root, 'root')[0]?.subjectCn).toBe('Intel SGX Root CA');
    expect(code(() => parsePemChain(`${root}\ntrailing text`, 'x'))).toBe('CertificateMalformed');
  });
  it('CRLs: truncated at every length or with trailing bytes', () => {
    const der = new Uint8Array(readFileSync(join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06', 'root_ca_crl.der')));
    expect(parseCrl(der, 'crl').nextUpdate.getTime()).toBeGreaterThan(parseCrl(der, 'crl').thisUpdate.getTime());
    for (let len = 0; len < der.length; len++) expect(code(() => parseCrl(der.subarray(0, len), 'crl')), `length ${len}`).toBe('CrlMalformed');
    expect(code(() => parseCrl(new Uint8Array([...der, 0]), 'crl'))).toBe('CrlMalformed');
  });
  it('signed JSON: structure, duplicates and signature format', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const sig = 'ab'.repeat(64);
    expect(extractSignedJson(enc(`{"tcbInfo":{"a":1},"signature":"${sig}"}`), 'tcbInfo', 'T', 'TcbInfoMalformed').signedText).toBe('{"a":1}');
    expect(code(() => extractSignedJson(enc(`{"tcbInfo":{"a":1},"signature":"${sig.toUpperCase()}"}`), 'tcbInfo', 'T', 'TcbInfoMalformed'))).toBe('TcbInfoMalformed');
    expect(code(() => extractSignedJson(enc(`{"tcbInfo":{"a":1},"tcbInfo":{"a":2},"signature":"${sig}"}`), 'tcbInfo', 'T', 'TcbInfoMalformed'))).toBe('TcbInfoMalformed');
    expect(code(() => extractSignedJson(enc(`{"tcbInfo":{"a":1}}`), 'tcbInfo', 'T', 'TcbInfoMalformed'))).toBe('TcbInfoMalformed');
    expect(code(() => extractSignedJson(enc('{"tcbInfo":'), 'tcbInfo', 'T', 'TcbInfoMalformed'))).toBe('TcbInfoMalformed');
    expect(code(() => extractSignedJson(new Uint8Array([0xff, 0xfe]), 'tcbInfo', 'T', 'TcbInfoMalformed'))).toBe('TcbInfoMalformed');
    expect([...topLevelSpans(' { "a" : [1,"]}"] , "b":{"c":"}"} } ').keys()]).toEqual(['a', 'b']);
  });
});

describe('strict DER reader: each rule refuses with its own message', () => {
  const derMessage = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err instanceof DerError ? err.message : `not a DerError: ${String(err)}`;
    }
    return 'no error';
  };
  it('names the element, length and tag problems', () => {
    expect(derMessage(() => readTlv(b(''), 0))).toBe('no element at offset 0');
    expect(derMessage(() => readTlv(b('3000'), 2))).toBe('no element at offset 2');
    expect(derMessage(() => readTlv(b('1f01'), 0))).toBe('high tag numbers are not used here');
    expect(derMessage(() => readTlv(b('04'), 0))).toBe('truncated length');
    expect(derMessage(() => readTlv(b('048201'), 0))).toBe('truncated length');
    expect(derMessage(() => readTlv(b('0480'), 0))).toBe('indefinite or oversized length');
    expect(derMessage(() => readTlv(b('0485000000000001'), 0))).toBe('indefinite or oversized length');
    // A 4-byte length is allowed (only more is oversized); this one then overruns its container.
    expect(derMessage(() => readTlv(b('048401000000'), 0))).toBe('element runs past the end of its container');
    expect(derMessage(() => readTlv(b('048101ff'), 0))).toBe('non-minimal length');
    expect(derMessage(() => readTlv(b('048200ff' + '00'.repeat(255)), 0))).toBe('non-minimal length');
    expect(derMessage(() => readOnly(b('040100ff')))).toBe('trailing bytes after the element');
  });
  it('accepts the smallest long-form length (0x80) and reads its content', () => {
    const t = readTlv(b('048180' + '01'.repeat(128)), 0);
    expect([t.tag, t.raw.length, t.value.length]).toEqual([4, 131, 128]);
  });
  it('children() only opens constructed elements; expectTag() names what it expected', () => {
    expect(derMessage(() => children(readOnly(b('0403020101'))))).toBe('tag 0x4 is not constructed');
    expect(derMessage(() => expectTag(undefined, 0x30, 'thing'))).toBe('thing: expected tag 0x30');
    expect(derMessage(() => expectTag(readOnly(b('020101')), 0x30, 'thing'))).toBe('thing: expected tag 0x30');
    expect(expectTag(readOnly(b('020101')), 0x02, 'thing').value).toEqual(b('01'));
  });
});

describe('DER times: digits, forms and ranges', () => {
  const time = (tag: number, s: string) => readTlv(Uint8Array.from([tag, s.length, ...Buffer.from(s, 'latin1')]), 0);
  const timeMessage = (fn: () => unknown) => {
    try {
      return (fn() as Date).toISOString();
    } catch (err) {
      return err instanceof DerError ? err.message : `not a DerError: ${String(err)}`;
    }
  };
  it('every two-digit field must be two ASCII digits, even where the arithmetic would give a usable number', () => {
    // ':' is 0x3a ("digit" 10) and '/' is 0x2f ("digit" -1): each would make an in-range value if accepted.
    for (const bad of ['25010100000:Z', '25010100001/Z', '2501010000/5Z', ':50101000000Z', '2501010000a0Z']) {
      expect(timeMessage(() => readTime(time(0x17, bad), 'when')), bad).toBe('when is not a DER UTCTime/GeneralizedTime');
    }
    expect(timeMessage(() => readTime(time(0x17, '991231235959Z'), 'when'))).toBe('1999-12-31T23:59:59.000Z');
    expect(timeMessage(() => readTime(time(0x18, '19991231235959Z'), 'when'))).toBe('1999-12-31T23:59:59.000Z');
  });
  it('the tag fixes the length: UTCTime 13 characters, GeneralizedTime 15, both ending in Z', () => {
    expect(timeMessage(() => readTime(undefined, 'when'))).toBe('when is not a DER UTCTime/GeneralizedTime');
    expect(timeMessage(() => readTime(time(0x17, '2501010000001AZ'), 'when'))).toBe('when is not a DER UTCTime/GeneralizedTime');
    expect(timeMessage(() => readTime(time(0x17, '20250101000000Z'), 'when'))).toBe('when is not a DER UTCTime/GeneralizedTime');
    expect(timeMessage(() => readTime(time(0x18, '202501010000001Z'), 'when'))).toBe('when is not a DER UTCTime/GeneralizedTime');
    expect(timeMessage(() => readTime(time(0x04, '20250101000000Z'), 'when'))).toBe('when is not a DER UTCTime/GeneralizedTime');
    expect(timeMessage(() => readTime(time(0x04, '250101000000Z'), 'when'))).toBe('when is not a DER UTCTime/GeneralizedTime');
  });
  it('an impossible calendar date or clock time has its own message', () => {
    for (const bad of ['250230000000Z', '250101240000Z', '250101006000Z', '250101000060Z', '251301000000Z']) {
      expect(timeMessage(() => readTime(time(0x17, bad), 'when')), bad).toBe('when is not a valid date');
    }
  });
});
