import type { Element } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { H100_2023, failure } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { resignRim } from '../../../test/fixtures/nvidia/support/synthetic.ts';
import { makeTestPki } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { DSIG_NS, parseXml, verifyEnvelopedSignature } from './xmldsig.ts';

// The captured, NVIDIA-signed driver RIM; each test edits one part of its enveloped signature.
const RIM = H100_2023.driverRim;
const C14N_10 = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const C14N_11 = 'http://www.w3.org/2006/12/xml-c14n11';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';

const verify = (xml: string) => verifyEnvelopedSignature(parseXml(xml));
function refused(xml: string, code = 'RimSignatureInvalid'): string {
  const err = failure(() => verify(xml));
  expect(err.code).toBe(code);
  return err.message;
}
function replaceOnce(xml: string, from: string, to: string): string {
  expect(xml.split(from)).toHaveLength(2);
  return xml.replace(from, to);
}
const transforms = (...algs: string[]): string => `<ds:Transforms>${algs.map((a) => `<ds:Transform Algorithm="${a}"/>`).join('')}</ds:Transforms>`;
const REAL_TRANSFORMS = transforms(ENVELOPED, C14N_11);
const SIGNATURE = RIM.slice(RIM.indexOf('<ds:Signature'), RIM.indexOf('</ds:Signature>') + '</ds:Signature>'.length);
const between = (open: string, close: string): string => RIM.slice(RIM.indexOf(open) + open.length, RIM.indexOf(close));

describe('XML parsing for RIMs', () => {
  it('refuses a DOCTYPE in any case, and XML with errors; parser warnings alone are accepted', () => {
    expect(failure(() => parseXml('<!doctype a><a/>')).message).toBe('RIM XML: DOCTYPE declarations are not accepted');
    expect(failure(() => parseXml('<a>&foo;</a>')).message).toBe('RIM XML: not well-formed (entity not found:&foo;)');
    expect(failure(() => parseXml('<a>x</a>junk')).message).toBe('RIM XML: not well-formed (Extra content at the end of the document)');
    expect(failure(() => parseXml('')).message).toBe('RIM XML: not well-formed (missing root element)');
    expect(failure(() => parseXml('<a><b></a>')).code).toBe('RimMalformed');
    // xmldom only warns about an unquoted attribute value.
    expect(parseXml('<a x=1/>').documentElement?.getAttribute('x')).toBe('1');
  });
});

describe('enveloped XML-DSig verification (captured NVIDIA-signed RIM)', () => {
  it('verifies the captured RIM and returns its KeyInfo certificates in document order', () => {
    expect(verify(RIM).certificates.map((c) => c.name)).toEqual([
      'HCC RIM L4 Signer',
      'NVIDIA Reference Value L3 GH100 001',
      'NVIDIA Reference Value GH100 CA',
      'NVIDIA CoRIM signing Root CA',
    ]);
  });

  it('needs exactly one Signature, a child of the document element', () => {
    expect(refused(RIM.replace(SIGNATURE, ''))).toBe('RIM signature: expected exactly one ds:Signature element, found 0');
    const nested = RIM.replace(SIGNATURE, '').replace('</ns0:Payload>', `${SIGNATURE}</ns0:Payload>`);
    expect(refused(nested)).toBe('RIM signature: ds:Signature is not a child of the document element');
  });

  it('needs exactly one of each ds: element it reads, naming it and its parent', () => {
    const signedInfo = `<ds:SignedInfo>${between('<ds:SignedInfo>', '</ds:SignedInfo>')}</ds:SignedInfo>`;
    expect(refused(replaceOnce(RIM, signedInfo, `${signedInfo}${signedInfo}`))).toBe(
      'RIM signature: expected exactly one ds:SignedInfo in ds:Signature, found 2',
    );
    expect(refused(replaceOnce(RIM, '<ds:DigestMethod ', '<DigestMethod '))).toBe('RIM signature: expected exactly one ds:DigestMethod in ds:Reference, found 0');
    expect(refused(replaceOnce(RIM, '<ds:KeyInfo>', '<ds:KeyInfo/><ds:KeyInfo>'))).toBe('RIM signature: expected exactly one ds:KeyInfo in ds:Signature, found 2');
  });

  it('accepts only C14N 1.0/1.1, ECDSA-SHA384, URI="", enveloped-signature [+ C14N] and SHA-384', () => {
    const alg = (from: string, to: string) => refused(replaceOnce(RIM, `Algorithm="${from}"/><ds:SignatureMethod`, `Algorithm="${to}"/><ds:SignatureMethod`));
    expect(alg(C14N_11, EXC_C14N)).toBe(`RIM signature: canonicalization ${EXC_C14N} is not supported`);
    // A method without an Algorithm attribute names the empty algorithm.
    expect(refused(replaceOnce(RIM, `<ds:CanonicalizationMethod Algorithm="${C14N_11}"/>`, '<ds:CanonicalizationMethod/>'))).toBe(
      'RIM signature: canonicalization  is not supported',
    );
    expect(refused(replaceOnce(RIM, 'xmldsig-more#ecdsa-sha384', 'xmldsig-more#ecdsa-sha256'))).toBe(
      'RIM signature: signature method http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256 is not ecdsa-sha384',
    );
    for (const ref of ['<ds:Reference URI="#x">', '<ds:Reference>']) {
      expect(refused(replaceOnce(RIM, '<ds:Reference URI="">', ref))).toBe('RIM signature: the Reference does not cover the whole document (URI must be "")');
    }
    const tr = (...algs: string[]) => refused(replaceOnce(RIM, REAL_TRANSFORMS, transforms(...algs)));
    for (const algs of [[C14N_11], [ENVELOPED, EXC_C14N], [ENVELOPED, C14N_11, C14N_11], [C14N_11, ENVELOPED], []]) {
      expect(tr(...algs)).toBe(`RIM signature: unsupported transforms [${algs.join(', ')}]; expected enveloped-signature then C14N`);
    }
    expect(refused(replaceOnce(RIM, 'xmldsig-more#sha384"/><ds:DigestValue>', 'xmlenc#sha256"/><ds:DigestValue>'))).toBe(
      'RIM signature: digest method http://www.w3.org/2001/04/xmlenc#sha256 is not SHA-384',
    );
    // Every accepted variant gets past these checks: it reaches the signature, which covers SignedInfo.
    const variants = [
      replaceOnce(RIM, REAL_TRANSFORMS, transforms(ENVELOPED)),
      replaceOnce(RIM, REAL_TRANSFORMS, transforms(ENVELOPED, C14N_10)),
      replaceOnce(RIM, `Algorithm="${C14N_11}"/><ds:SignatureMethod`, `Algorithm="${C14N_10}"/><ds:SignatureMethod`),
      replaceOnce(RIM, 'xmldsig-more#sha384"/><ds:DigestValue>', 'xmlenc#sha384"/><ds:DigestValue>'),
    ];
    for (const v of variants) expect(refused(v)).toMatch(/^RIM signature: ECDSA-SHA384 over SignedInfo does not verify with the key of 'HCC RIM L4 Signer'$/);
  });

  it('verifies variants signed with C14N 1.0, only the enveloped transform and the xmlenc SHA-384 URI', () => {
    const pki = makeTestPki();
    const setAlg = (root: Element, local: string, value: string): void => {
      (root.getElementsByTagNameNS(DSIG_NS, local).item(0) as Element).setAttribute('Algorithm', value);
    };
    const signed = resignRim(RIM, pki.rimSigner, [pki.rimSigner, pki.rimCa], (root) => {
      setAlg(root, 'CanonicalizationMethod', C14N_10);
      setAlg(root, 'DigestMethod', 'http://www.w3.org/2001/04/xmlenc#sha384');
      const ts = root.getElementsByTagNameNS(DSIG_NS, 'Transforms').item(0) as Element;
      ts.removeChild(ts.getElementsByTagNameNS(DSIG_NS, 'Transform').item(1) as Element);
    });
    expect(verify(signed).certificates.map((c) => c.name)).toEqual(['Test RIM Signer', 'Test Reference Value CA']);
  });

  it('refuses a DigestValue that is not base64, or not the digest', () => {
    const digest = between('<ds:DigestValue>', '</ds:DigestValue>');
    expect(refused(replaceOnce(RIM, digest, '!!!!'))).toBe('DigestValue is not valid base64');
    expect(refused(replaceOnce(RIM, digest, ''))).toBe('RIM signature: the document digest does not match DigestValue (content was changed)');
  });

  it('refuses canonicalization it does not implement (xml:base above SignedInfo)', () => {
    const xml = replaceOnce(RIM, '<SoftwareIdentity ', '<SoftwareIdentity xml:base="http://x/" ');
    expect(refused(xml)).toBe('RIM signature: xml:base on an ancestor of a document subset is not supported');
  });

  it('needs KeyInfo certificates, the signer first, and a 96-byte SignatureValue that verifies', () => {
    const data = RIM.slice(RIM.indexOf('<ds:X509Data>'), RIM.indexOf('</ds:X509Data>') + '</ds:X509Data>'.length);
    expect(refused(replaceOnce(RIM, data, '<ds:X509Data/>'))).toBe('RIM signature: KeyInfo carries no X509Certificate');
    expect(refused(replaceOnce(RIM, data, '<X509Data/>'))).toBe('RIM signature: KeyInfo carries no X509Certificate');
    expect(refused(replaceOnce(RIM, '<ds:X509Certificate>MIICkTCC', '<ds:X509Certificate>!MIICkTCC'), 'RimMalformed')).toBe(
      'KeyInfo certificate 0 is not valid base64',
    );
    expect(failure(() => verify(replaceOnce(RIM, '<ds:X509Certificate>MIICkTCC', '<ds:X509Certificate>AAAA'))).message).toMatch(
      /^RIM KeyInfo certificate 0/,
    );
    // The CA's certificate first: the SignedInfo signature is checked with the first certificate's key.
    const certs = data.split('<ds:X509Certificate>').slice(1).map((c) => `<ds:X509Certificate>${c.replace('</ds:X509Data>', '')}`);
    const swapped = replaceOnce(RIM, data, `<ds:X509Data>${certs[1]}${certs[0]}</ds:X509Data>`);
    expect(refused(swapped)).toBe("RIM signature: ECDSA-SHA384 over SignedInfo does not verify with the key of 'NVIDIA Reference Value L3 GH100 001'");
    const value = between('<ds:SignatureValue>', '</ds:SignatureValue>');
    expect(refused(replaceOnce(RIM, value, Buffer.from(value, 'base64').subarray(0, 64).toString('base64')))).toBe('RIM signature: SignatureValue is 64 bytes, expected 96 (P-384 r||s)');
    expect(refused(replaceOnce(RIM, value, `${value}AAAA`))).toBe('RIM signature: SignatureValue is 99 bytes, expected 96 (P-384 r||s)');
    expect(refused(replaceOnce(RIM, value, '*'))).toBe('SignatureValue is not valid base64');
  });
});
