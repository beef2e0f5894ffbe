import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { H100_2023, H100_550, failure, kbsEntry } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { makeCert, makeDeviceLeaf, makeTestPki } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { parseGpuEvidence } from './evidence.ts';
import { DICE_TCB_INFO_OID } from './fwid.ts';
import { checkClaimedVersions, checkFwid, checkNonce, parseGpuReport, verifyReportSignature } from './report.ts';

const item = (report = H100_2023.report, chainPem = H100_2023.chainPem) => parseGpuEvidence({ device_evidence_list: [kbsEntry(report, chainPem)] }).items[0]!;
const refusal = (fn: () => unknown, code: string): string => {
  const err = failure(fn);
  expect(err.code).toBe(code);
  return err.message;
};

describe('one GPU report: parse, signature, nonce, FWID and claimed versions', () => {
  it('parses report, opaque data and chain; a chain that fails to parse keeps its own error', () => {
    const r = parseGpuReport(item());
    expect(r.chain.map((c) => c.name)[0]).toBe('GH100 A01 GSP FMC LF');
    expect(r.info.driverVersion).toBe('545.00');
    expect(refusal(() => parseGpuReport(item(), () => { throw new Error('boom'); }), 'SpdmMalformed')).toBe('GPU report: boom');
    expect(refusal(() => parseGpuReport({ ...item(), certChainPem: 'no PEM here' }), 'CertificateMalformed')).toBe('device certificate chain contains no PEM certificate');
    expect(refusal(() => parseGpuReport(item(H100_2023.report.subarray(0, 10))), 'SpdmMalformed')).toMatch(/^truncated at request nonce/);
  });

  it('verifies the signature with the leaf key, naming the leaf when it does not', () => {
    verifyReportSignature(parseGpuReport(item()));
    const flipped = new Uint8Array(H100_2023.report);
    flipped[60] = (flipped[60] ?? 0) ^ 1; // inside block 1's value
    expect(refusal(() => verifyReportSignature(parseGpuReport(item(flipped))), 'ReportSignatureInvalid')).toBe(
      "SPDM report signature does not verify with the key of leaf certificate 'GH100 A01 GSP FMC LF'",
    );
    // Another device's leaf.
    const pki = makeTestPki();
    const other = [makeDeviceLeaf(pki), pki.deviceProvisioner].map((c) => c.pem).join('');
    expect(refusal(() => verifyReportSignature(parseGpuReport(item(H100_2023.report, other))), 'ReportSignatureInvalid')).toMatch(/'Test GSP FMC LF'$/);
  });

  it('binds the nonce to the first 32 bytes of the expected report data', () => {
    const r = parseGpuReport(item());
    const nonce = Buffer.from(H100_2023.nonceHex, 'hex');
    checkNonce(r, nonce);
    checkNonce(r, new Uint8Array([...nonce, 1, 2, 3]));
    expect(refusal(() => checkNonce(r, nonce.subarray(0, 31)), 'NonceMismatch')).toBe('expected nonce is 31 bytes; at least 32 are needed');
    const other = new Uint8Array(32).fill(1);
    expect(refusal(() => checkNonce(r, other), 'NonceMismatch')).toBe(`SPDM request nonce ${H100_2023.nonceHex} is not the expected ${'01'.repeat(32)}`);
  });

  it('matches the report FWID against the leaf DICE extension', () => {
    checkFwid(parseGpuReport(item(H100_550.report, H100_550.chainPem)));
    // No FWID in the report: nothing to compare, whatever the leaf carries.
    checkFwid(parseGpuReport(item()));
    // The 2023 chain's leaf carries another FWID.
    expect(refusal(() => checkFwid(parseGpuReport(item(H100_550.report, H100_2023.chainPem))), 'FwidMismatch')).toBe(
      `report FWID ${H100_550.trusteeClaims.config.fwid} differs from the leaf certificate FWID 80e48f4e7c8ff8f2681bc90cfb7018719049cc7e488dd76962fa0bf60a2f56a8a4d1de980f87236158c3b5119c6817f7`,
    );
    const pki = makeTestPki();
    const noDice = [makeDeviceLeaf(pki), pki.deviceProvisioner].map((c) => c.pem).join('');
    expect(refusal(() => checkFwid(parseGpuReport(item(H100_550.report, noDice))), 'FwidMismatch')).toBe(
      'report carries an FWID but the leaf certificate has no DICE FWID extension',
    );
    // A DICE extension with no SHA-384 FWID counts as none; with several, any one may match.
    const sha384 = '2.16.840.1.101.3.4.2.2';
    const fwidSeq = (alg: string, bytes: Uint8Array) => new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: alg }), new asn1js.OctetString({ valueHex: bytes })] });
    const diceChain = (...ids: asn1js.Sequence[]) => {
      const extnValue = new asn1js.Sequence({ value: ids }).toBER();
      const leaf = makeCert({ cn: 'DICE leaf', issuer: pki.deviceProvisioner, ca: false, extraExtensions: [new pkijs.Extension({ extnID: DICE_TCB_INFO_OID, extnValue })] });
      return [leaf, pki.deviceProvisioner].map((c) => c.pem).join('');
    };
    const reportFwid = new Uint8Array(Buffer.from(H100_550.trusteeClaims.config.fwid ?? '', 'hex'));
    expect(refusal(() => checkFwid(parseGpuReport(item(H100_550.report, diceChain(fwidSeq('2.16.840.1.101.3.4.2.1', reportFwid))))), 'FwidMismatch')).toBe(
      'report carries an FWID but the leaf certificate has no DICE FWID extension',
    );
    checkFwid(parseGpuReport(item(H100_550.report, diceChain(fwidSeq(sha384, new Uint8Array(48)), fwidSeq(sha384, reportFwid)))));
    expect(refusal(() => checkFwid(parseGpuReport(item(H100_550.report, diceChain(fwidSeq(sha384, new Uint8Array(48).fill(3)), fwidSeq(sha384, new Uint8Array(48)))))), 'FwidMismatch')).toMatch(
      new RegExp(`differs from the leaf certificate FWID ${'03'.repeat(48)}$`),
    );
  });

  it('compares SDK-claimed versions with the signed ones (VBIOS case-insensitively)', () => {
    const r = parseGpuReport(item());
    checkClaimedVersions(r);
    checkClaimedVersions({ ...r, item: { ...r.item, driverVersion: '545.00', vbiosVersion: '96.00.5e.00.01' } });
    expect(refusal(() => checkClaimedVersions({ ...r, item: { ...r.item, driverVersion: '545.01' } }), 'ReportVersionMismatch')).toBe(
      'evidence says driver 545.01 but the signed report says 545.00',
    );
    expect(refusal(() => checkClaimedVersions({ ...r, item: { ...r.item, vbiosVersion: '96.00.5E.00.02' } }), 'ReportVersionMismatch')).toBe(
      'evidence says VBIOS 96.00.5E.00.02 but the signed report says 96.00.5E.00.01',
    );
  });
});
