import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { H100_2023, H100_550, failure } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { makeCert, makeTestPki } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { DICE_TCB_INFO_OID, leafFwids } from './fwid.ts';
import { parsePemChain, type ParsedCert } from './x509-chain.ts';

const SHA384 = '2.16.840.1.101.3.4.2.2';
const SHA256 = '2.16.840.1.101.3.4.2.1';
const pki = makeTestPki();
const fwid = (alg: string, byte: number) => new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: alg }), new asn1js.OctetString({ valueHex: new Uint8Array(48).fill(byte) })] });
/** A test leaf whose DICE extension holds `value` (DER). */
function leafWith(value: ArrayBuffer | undefined): ParsedCert {
  const extraExtensions = value ? [new pkijs.Extension({ extnID: DICE_TCB_INFO_OID, critical: false, extnValue: value })] : [];
  const cert = makeCert({ cn: 'Test DICE leaf', issuer: pki.deviceProvisioner, ca: false, extraExtensions });
  return parsePemChain(cert.pem, 'leaf')[0] as ParsedCert;
}
const hex = (ids: Uint8Array[] | undefined) => ids?.map((b) => Buffer.from(b).toString('hex'));

describe('FWIDs from the DICE extension of a device leaf', () => {
  it('reads the Hopper leaf of the captured 550 report, which carries the report FWID', () => {
    const leaf = parsePemChain(H100_550.chainPem, 'device')[0] as ParsedCert;
    expect(hex(leafFwids(leaf))).toEqual([H100_550.trusteeClaims.config.fwid]);
    expect(leafFwids(parsePemChain(H100_2023.chainPem, 'device')[0] as ParsedCert)).toHaveLength(1);
  });

  it('collects every SHA-384 FWID at any depth up to 8, in order, and nothing else', () => {
    // Hopper: SEQUENCE { version, SubjectPublicKeyInfo-like SEQUENCE, FWID }.
    const hopper = new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 }), new asn1js.Sequence({ value: [new asn1js.Null()] }), fwid(SHA384, 1)] });
    expect(hex(leafFwids(leafWith(hopper.toBER())))).toEqual(['01'.repeat(48)]);
    // Blackwell DiceTcbInfo: [6] { FWID, FWID }; a SHA-256 FWID is not collected.
    const tagged = new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 6 }, value: [fwid(SHA384, 2), fwid(SHA256, 3), fwid(SHA384, 4)] });
    expect(hex(leafFwids(leafWith(new asn1js.Sequence({ value: [new asn1js.Integer({ value: 0 }), tagged] }).toBER())))).toEqual([
      '02'.repeat(48),
      '04'.repeat(48),
    ]);
    // A pair whose second element is not an OCTET STRING, or with a third element, is not an FWID.
    const notOctets = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: SHA384 }), new asn1js.Integer({ value: 5 })] });
    const three = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: SHA384 }), new asn1js.OctetString({ valueHex: new Uint8Array(48) }), new asn1js.Null()] });
    expect(leafFwids(leafWith(new asn1js.Sequence({ value: [notOctets, three] }).toBER()))).toEqual([]);
    // Reversed order: OCTET STRING then OID.
    const reversed = new asn1js.Sequence({ value: [new asn1js.OctetString({ valueHex: new Uint8Array(48) }), new asn1js.ObjectIdentifier({ value: SHA384 })] });
    expect(leafFwids(leafWith(new asn1js.Sequence({ value: [reversed] }).toBER()))).toEqual([]);
    // Depth: the FWID as the 8th nested level is read, as the 9th it is not.
    const nest = (levels: number) => {
      let node: asn1js.Sequence = fwid(SHA384, 9);
      for (let i = 0; i < levels; i++) node = new asn1js.Sequence({ value: [node] });
      return node.toBER();
    };
    expect(leafFwids(leafWith(nest(8)))).toHaveLength(1);
    expect(leafFwids(leafWith(nest(9)))).toEqual([]);
  });

  it('returns undefined without the extension and refuses one that is not a DER SEQUENCE', () => {
    expect(leafFwids(leafWith(undefined))).toBeUndefined();
    const bare = makeCert({ cn: 'No extensions', issuer: pki.deviceProvisioner, keyUsage: null });
    expect(leafFwids(parsePemChain(bare.pem, 'leaf')[0] as ParsedCert)).toBeUndefined();
    for (const value of [new asn1js.OctetString({ valueHex: new Uint8Array(4) }).toBER(), new Uint8Array([0x30, 0x05, 0x01]).buffer]) {
      const err = failure(() => leafFwids(leafWith(value)));
      expect(err.code).toBe('CertificateMalformed');
      expect(err.message).toBe("leaf certificate 'Test DICE leaf' DICE extension is not a DER SEQUENCE");
    }
  });
});
