// Enveloped XML-DSig verification as NVIDIA RIMs use it: one Signature (child of the root element),
// one Reference with URI="" and transforms enveloped-signature [+ C14N], ECDSA-SHA384 over the
// canonical SignedInfo, SHA-384 digest. Anything else is refused rather than half-supported.
import { createHash } from 'node:crypto';
import { verifyRawEcdsa } from '../../protocol/ecdsa-signature.ts';
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';
import { bytesEqual, decodeBase64 } from './bytes.ts';
import { C14nUnsupportedError, canonicalizeDocument, canonicalizeSubtree } from './c14n.ts';
import { NvidiaError } from './errors.ts';
import { parseCertificateDer, type ParsedCert } from './x509-chain.ts';

export const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';
const C14N_11 = 'http://www.w3.org/2006/12/xml-c14n11';
const C14N_10 = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const ECDSA_SHA384 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384';
const SHA384_URIS = new Set(['http://www.w3.org/2001/04/xmldsig-more#sha384', 'http://www.w3.org/2001/04/xmlenc#sha384']);
const CANONICALIZATIONS = new Set([C14N_11, C14N_10]);

export interface VerifiedXmlSignature {
  /** The KeyInfo certificates in document order (signer first). */
  certificates: ParsedCert[];
}

const malformed = (why: string): NvidiaError => new NvidiaError('RimMalformed', `RIM XML: ${why}`);
const badSig = (why: string): NvidiaError => new NvidiaError('RimSignatureInvalid', `RIM signature: ${why}`);

/** Parses XML strictly: any parser warning-level error or DTD is a failure (no entity expansion). */
export function parseXml(xml: string): Document {
  if (/<!DOCTYPE/i.test(xml)) throw malformed('DOCTYPE declarations are not accepted');
  const problems: string[] = [];
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') problems.push(message.split('\n')[0] ?? message);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (err) {
    throw malformed(`not well-formed (${err instanceof Error ? (err.message.split('\n')[0] ?? '') : 'parse error'})`);
  }
  if (problems.length > 0) throw malformed(`not well-formed (${problems[0] ?? ''})`);
  if (!doc.documentElement) throw malformed('no root element');
  return doc;
}

function children(el: Element, ns: string, local: string): Element[] {
  const out: Element[] = [];
  for (let c = el.firstChild; c; c = c.nextSibling) {
    if (c.nodeType === 1 && (c as Element).namespaceURI === ns && (c as Element).localName === local) out.push(c as Element);
  }
  return out;
}

function one(el: Element, local: string): Element {
  const found = children(el, DSIG_NS, local);
  if (found.length !== 1) throw badSig(`expected exactly one ds:${local} in ds:${el.localName}, found ${found.length}`);
  return found[0] as Element;
}

function algorithm(el: Element): string {
  return el.getAttribute('Algorithm') ?? '';
}

function c14nFailure(err: unknown): NvidiaError {
  return err instanceof C14nUnsupportedError ? badSig(err.message) : badSig('canonicalization failed');
}

export function verifyEnvelopedSignature(doc: Document): VerifiedXmlSignature {
  const root = doc.documentElement as Element;
  const all = doc.getElementsByTagNameNS(DSIG_NS, 'Signature');
  if (all.length !== 1) throw badSig(`expected exactly one ds:Signature element, found ${all.length}`);
  const signature = all.item(0) as Element;
  if (signature.parentNode !== root) throw badSig('ds:Signature is not a child of the document element');

  const signedInfo = one(signature, 'SignedInfo');
  const c14n = algorithm(one(signedInfo, 'CanonicalizationMethod'));
  if (!CANONICALIZATIONS.has(c14n)) throw badSig(`canonicalization ${c14n} is not supported`);
  const sigAlg = algorithm(one(signedInfo, 'SignatureMethod'));
  if (sigAlg !== ECDSA_SHA384) throw badSig(`signature method ${sigAlg} is not ecdsa-sha384`);
  const reference = one(signedInfo, 'Reference');
  if (reference.getAttribute('URI') !== '') throw badSig('the Reference does not cover the whole document (URI must be "")');
  const transforms = children(reference, DSIG_NS, 'Transforms').flatMap((t) => children(t, DSIG_NS, 'Transform').map(algorithm));
  const [first, ...rest] = transforms;
  if (first !== ENVELOPED || rest.length > 1 || (rest[0] !== undefined && !CANONICALIZATIONS.has(rest[0]))) {
    throw badSig(`unsupported transforms [${transforms.join(', ')}]; expected enveloped-signature then C14N`);
  }
  const digestAlg = algorithm(one(reference, 'DigestMethod'));
  if (!SHA384_URIS.has(digestAlg)) throw badSig(`digest method ${digestAlg} is not SHA-384`);
  const expectedDigest = decodeBase64(one(reference, 'DigestValue').textContent ?? '', 'DigestValue', 'RimSignatureInvalid');

  let signedInfoC14n: string;
  let documentC14n: string;
  try {
    documentC14n = canonicalizeDocument(doc, signature);
    signedInfoC14n = canonicalizeSubtree(signedInfo);
  } catch (err) {
    throw c14nFailure(err);
  }
  const digest = createHash('sha384').update(documentC14n, 'utf8').digest();
  if (!bytesEqual(digest, expectedDigest)) throw badSig('the document digest does not match DigestValue (content was changed)');

  const certElements = children(one(signature, 'KeyInfo'), DSIG_NS, 'X509Data').flatMap((d) => children(d, DSIG_NS, 'X509Certificate'));
  if (certElements.length === 0) throw badSig('KeyInfo carries no X509Certificate');
  const certificates = certElements.map((c, i) =>
    parseCertificateDer(decodeBase64(c.textContent ?? '', `KeyInfo certificate ${i}`, 'RimMalformed'), `RIM KeyInfo certificate ${i}`),
  );
  const signer = certificates[0] as ParsedCert;
  const value = decodeBase64(one(signature, 'SignatureValue').textContent ?? '', 'SignatureValue', 'RimSignatureInvalid');
  if (value.length !== 96) throw badSig(`SignatureValue is ${value.length} bytes, expected 96 (P-384 r||s)`);
  let ok: boolean;
  try {
    ok = verifyRawEcdsa('sha384', Buffer.from(signedInfoC14n, 'utf8'), signer.publicKey, value, 48);
  } catch {
    ok = false;
  }
  if (!ok) throw badSig(`ECDSA-SHA384 over SignedInfo does not verify with the key of '${signer.name}'`);
  return { certificates };
}
