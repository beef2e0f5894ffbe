// Reads the digest a signed PE file carries in its own Authenticode signature: each WIN_CERTIFICATE in
// the attribute certificate table holds a PKCS#7 SignedData whose content is SpcIndirectDataContent
// { data, messageDigest DigestInfo }. Used to cross-check authenticodeDigest() against the signer's view.
// It does not verify the PKCS#7 signature or its chain (not needed to read the digest).
import * as asn1js from 'asn1js';
import { parsePeLayout, PeError, type AuthenticodeAlgorithm } from './authenticode.ts';

export interface EmbeddedDigest {
  algorithm: AuthenticodeAlgorithm;
  digest: string; // hex
}

const DIGEST_OIDS: Record<string, AuthenticodeAlgorithm> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const SIGNED_DATA = '1.2.840.113549.1.7.2';
const SPC_INDIRECT_DATA = '1.3.6.1.4.1.311.2.1.4';
const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;

const bad = (msg: string): never => {
  throw new PeError('BadSignature', `Authenticode signature: ${msg}`);
};
const children = (b: asn1js.AsnType | undefined, what: string): asn1js.AsnType[] => {
  const v = (b as asn1js.Sequence | undefined)?.valueBlock as { value?: asn1js.AsnType[] } | undefined;
  return Array.isArray(v?.value) ? v.value : bad(`${what} is not a constructed value`);
};
const oid = (b: asn1js.AsnType | undefined, what: string): string =>
  b instanceof asn1js.ObjectIdentifier ? b.valueBlock.toString() : bad(`${what} is not an OID`);

function digestFromPkcs7(der: Uint8Array): EmbeddedDigest {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1) bad('PKCS#7 is not valid BER');
  const ci = children(parsed.result, 'ContentInfo');
  if (oid(ci[0], 'ContentInfo.contentType') !== SIGNED_DATA) bad('ContentInfo is not SignedData');
  const signedData = children(children(ci[1], 'ContentInfo.content')[0], 'SignedData');
  const inner = children(signedData[2], 'SignedData.contentInfo');
  if (oid(inner[0], 'contentInfo.contentType') !== SPC_INDIRECT_DATA) bad('content is not SpcIndirectDataContent');
  let spc = children(inner[1], 'contentInfo.content')[0];
  if (spc instanceof asn1js.OctetString) spc = asn1js.fromBER(spc.getValue()).result; // CMS-style wrapping
  const digestInfo = children(children(spc, 'SpcIndirectDataContent')[1], 'DigestInfo');
  const alg = DIGEST_OIDS[oid(children(digestInfo[0], 'DigestInfo.digestAlgorithm')[0], 'digestAlgorithm')];
  if (!alg) bad('unsupported digest algorithm');
  const digest = digestInfo[1];
  if (!(digest instanceof asn1js.OctetString)) return bad('DigestInfo.digest is not an OCTET STRING');
  return { algorithm: alg as AuthenticodeAlgorithm, digest: Buffer.from(digest.getValue()).toString('hex') };
}

/** One digest per PKCS#7 WIN_CERTIFICATE in the certificate table (8-byte aligned entries). */
export function embeddedAuthenticodeDigests(pe: Buffer): EmbeddedDigest[] {
  const { certTable } = parsePeLayout(pe);
  if (certTable.size === 0) throw new PeError('NoSignature', 'PE: no attribute certificate table (unsigned image)');
  const out: EmbeddedDigest[] = [];
  let off = certTable.offset;
  const end = certTable.offset + certTable.size;
  while (off + 8 <= end) {
    const len = pe.readUInt32LE(off);
    const type = pe.readUInt16LE(off + 6);
    if (len < 8 || off + len > end) throw new PeError('BadCertificateTable', `PE: WIN_CERTIFICATE at ${off} has length ${len} beyond the table`);
    if (type === WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
      try {
        out.push(digestFromPkcs7(pe.subarray(off + 8, off + len)));
      } catch (e) {
        if (e instanceof PeError) throw e;
        bad(`PKCS#7 at ${off} could not be decoded (${(e as Error).message})`);
      }
    }
    off += (len + 7) & ~7;
  }
  if (out.length === 0) throw new PeError('NoSignature', 'PE: certificate table holds no PKCS#7 signature');
  return out;
}
