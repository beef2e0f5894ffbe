import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DerError, children, oidBytes, readOnly, readTime, readTlv } from './der.ts';
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
