// FWID from the TCG DICE extension (2.23.133.5.4.1) of the device leaf certificate.
// Hopper leaves carry SEQUENCE { version, SubjectPublicKeyInfo, SEQUENCE { sha384, OCTET STRING fwid } }
// (nvtrust reads "the last 48 bytes"); DiceTcbInfo (Blackwell) lists FWID ::= SEQUENCE { hashAlg, digest }
// under [6]. Both are covered by collecting every SEQUENCE { sha384 OID, OCTET STRING } in the value.
import * as asn1js from 'asn1js';
import { NvidiaError } from './errors.ts';
import type { ParsedCert } from './x509-chain.ts';

export const DICE_TCB_INFO_OID = '2.23.133.5.4.1';
const SHA384_OID = '2.16.840.1.101.3.4.2.2';

function collect(node: asn1js.AsnType, out: Uint8Array[], depth: number): void {
  if (depth > 8) return;
  const children = (node as asn1js.Constructed).valueBlock?.value;
  if (!Array.isArray(children)) return;
  const [alg, digest] = children;
  if (
    children.length === 2 &&
    alg instanceof asn1js.ObjectIdentifier &&
    alg.valueBlock.toString() === SHA384_OID &&
    digest instanceof asn1js.OctetString
  ) {
    out.push(new Uint8Array(digest.valueBlock.valueHexView));
    return;
  }
  for (const child of children) collect(child, out, depth + 1);
}

/** SHA-384 FWIDs in the leaf's DICE extension; undefined when the certificate has no such extension. */
export function leafFwids(leaf: ParsedCert): Uint8Array[] | undefined {
  const ext = (leaf.decoded.extensions ?? []).find((e) => e.extnID === DICE_TCB_INFO_OID);
  if (!ext) return undefined;
  const parsed = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) {
    throw new NvidiaError('CertificateMalformed', `leaf certificate '${leaf.name}' DICE extension is not a DER SEQUENCE`);
  }
  const out: Uint8Array[] = [];
  collect(parsed.result, out, 0);
  return out;
}
