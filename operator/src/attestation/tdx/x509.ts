// X.509 certificates and CRLs for the DCAP chains: parsing, chain validation at an injected time, and CRL
// checks that cover the CRL's own signature, its issuer and its freshness (not just serial numbers).
import { X509Certificate, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { TdxError, asTdxError } from './errors.ts';
import { bytesEqual } from './bytes.ts';
import { DerError, children, expectTag, oidBytes, oidText, readOnly, readTime } from './der.ts';
import type { Tlv } from './der.ts';

const ECDSA_SHA256 = oidBytes('1.2.840.10045.4.3.2');
const EC_PUBLIC_KEY = oidBytes('1.2.840.10045.2.1');
const PRIME256V1 = oidBytes('1.2.840.10045.3.1.7');
const OID_CN = '2.5.4.3';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_SUBJECT_KEY_ID = '2.5.29.14';
const OID_AUTHORITY_KEY_ID = '2.5.29.35';

/**
 * A certificate read by the strict DER reader (no generic X.509 object model on the cold path: every chain of
 * every quote goes through here). Only what the DCAP chains use is kept; signatures are ECDSA-SHA256 only.
 */
export interface Cert {
  der: Uint8Array;
  /** The signed tbsCertificate bytes. */
  tbs: Uint8Array;
  /** DER ECDSA signature (the signatureValue BIT STRING content). */
  signature: Uint8Array;
  /** Raw DER of the issuer and subject Names (compared byte for byte, as Intel's QVL does). */
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  /** Extension values (the OCTET STRING content) by dotted OID. */
  extensions: Map<string, Uint8Array>;
  publicKey: KeyObject;
  subjectCn: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** Basic constraints cA = TRUE. */
  ca: boolean;
}

export interface Crl {
  der: Uint8Array;
  tbs: Uint8Array;
  issuerDer: Uint8Array;
  /** Both the outer and the tbsCertList algorithm are ecdsa-with-SHA256. */
  ecdsaSha256: boolean;
  /** DER ECDSA signature from the BIT STRING; undefined when the BIT STRING has unused bits. */
  signature: Uint8Array | undefined;
  thisUpdate: Date;
  nextUpdate: Date;
  revokedSerials: Set<string>;
}

/** A time window some verified item is valid in; the hot path re-checks these against `at`. */
export interface ValidityWindow {
  what: string;
  notBefore: Date;
  notAfter: Date;
  /** The failure code when `at` is after `notAfter` (and, without `earlyCode`, also before `notBefore`). */
  code: 'CertificateExpired' | 'CrlExpired' | 'TcbInfoExpired' | 'QeIdentityExpired';
  /** The failure code when `at` is before `notBefore`, where that has its own code. */
  earlyCode?: 'CertificateNotYetValid';
}

/** Lower-case hex of an INTEGER's content without leading zero digits (how serials are compared). */
function serialHex(value: Uint8Array): string {
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  const hex = Buffer.from(value.subarray(i)).toString('hex');
  return hex.length > 1 && hex[0] === '0' ? hex.slice(1) : hex;
}

function isEcdsaSha256(alg: Tlv | undefined): boolean {
  if (!alg || alg.tag !== 0x30) return false;
  const [oid, ...params] = children(alg);
  return oid?.tag === 0x06 && bytesEqual(oid.value, ECDSA_SHA256) && params.length === 0;
}

/** The first commonName in a Name (RDNSequence), as text ('' when there is none). */
function commonName(name: Tlv): string {
  for (const rdn of children(name)) {
    for (const atv of children(expectTag(rdn, 0x31, 'RelativeDistinguishedName'))) {
      const [type, value] = children(expectTag(atv, 0x30, 'AttributeTypeAndValue'));
      if (oidText(expectTag(type, 0x06, 'attribute type').value) === OID_CN && value) {
        return Buffer.from(value.value).toString(value.tag === 0x0c ? 'utf8' : 'latin1');
      }
    }
  }
  return '';
}

function basicConstraintsCa(value: Uint8Array | undefined): boolean {
  if (!value) return false;
  const [first] = children(expectTag(readOnly(value), 0x30, 'basicConstraints'));
  return first?.tag === 0x01 && first.value.length === 1 && first.value[0] === 0xff;
}

/** The keyIdentifier of an AuthorityKeyIdentifier, or the content of a SubjectKeyIdentifier. */
function keyId(value: Uint8Array | undefined, authority: boolean): Uint8Array | undefined {
  if (!value) return undefined;
  const t = readOnly(value);
  if (!authority) return expectTag(t, 0x04, 'subjectKeyIdentifier').value;
  return children(expectTag(t, 0x30, 'authorityKeyIdentifier')).find((c) => c.tag === 0x80)?.value;
}

/**
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }; tbsCertificate ::=
 * SEQUENCE { [0] version (v3), serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo,
 * [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions } (RFC 5280 §4.1).
 */
export function parseCertDer(der: Uint8Array, what: string): Cert {
  try {
    const outer = children(expectTag(readOnly(der), 0x30, 'certificate'));
    if (outer.length !== 3) throw new DerError('a certificate has exactly tbsCertificate, signatureAlgorithm and signatureValue');
    const [tbsTlv, outerAlg, sigBits] = outer as [Tlv, Tlv, Tlv];
    const f = children(expectTag(tbsTlv, 0x30, 'tbsCertificate'));
    const version = expectTag(f[0], 0xa0, 'version');
    const v = children(version)[0];
    if (v?.tag !== 0x02 || v.value.length !== 1 || v.value[0] !== 2) throw new DerError('only X.509 v3 certificates are accepted');
    const serial = expectTag(f[1], 0x02, 'serialNumber');
    if (!isEcdsaSha256(f[2]) || !isEcdsaSha256(outerAlg)) throw new DerError('the signature algorithm is not ecdsa-with-SHA256');
    const issuer = expectTag(f[3], 0x30, 'issuer');
    const [nb, na, ...extra] = children(expectTag(f[4], 0x30, 'validity'));
    if (extra.length > 0) throw new DerError('validity has extra fields');
    const subject = expectTag(f[5], 0x30, 'subject');
    const spki = expectTag(f[6], 0x30, 'subjectPublicKeyInfo');
    const extensions = new Map<string, Uint8Array>();
    let i = 7;
    while (f[i]?.tag === 0x81 || f[i]?.tag === 0xa1 || f[i]?.tag === 0x82 || f[i]?.tag === 0xa2) i++;
    if (f[i]?.tag === 0xa3) {
      for (const ext of children(expectTag(children(f[i] as Tlv)[0], 0x30, 'extensions'))) {
        const parts = children(expectTag(ext, 0x30, 'extension'));
        const oid = oidText(expectTag(parts[0], 0x06, 'extension id').value);
        const value = expectTag(parts[parts.length - 1], 0x04, 'extension value');
        if (extensions.has(oid)) throw new DerError(`extension ${oid} appears twice`);
        extensions.set(oid, value.value);
      }
      i++;
    }
    if (i !== f.length) throw new DerError('tbsCertificate has unexpected fields');
    expectTag(sigBits, 0x03, 'signatureValue');
    if (sigBits.value[0] !== 0) throw new DerError('signatureValue BIT STRING has unused bits');
    const [keyAlg] = children(spki);
    const [algOid, curveOid] = keyAlg?.tag === 0x30 ? children(keyAlg) : [];
    if (!algOid || !curveOid || !bytesEqual(algOid.value, EC_PUBLIC_KEY) || !bytesEqual(curveOid.value, PRIME256V1)) throw new DerError('the public key is not a P-256 key');
    // node:crypto's X509Certificate decodes the key through OpenSSL's certificate path, which costs about a
    // third less than createPublicKey on the SPKI (OpenSSL 3 decoders); it also re-parses the whole DER.
    const publicKey = new X509Certificate(der).publicKey;
    return {
      der,
      tbs: tbsTlv.raw,
      signature: sigBits.value.subarray(1),
      issuerDer: issuer.raw,
      subjectDer: subject.raw,
      extensions,
      publicKey,
      subjectCn: commonName(subject),
      serial: serialHex(serial.value),
      notBefore: readTime(nb, 'notBefore'),
      notAfter: readTime(na, 'notAfter'),
      ca: basicConstraintsCa(extensions.get(OID_BASIC_CONSTRAINTS)),
    };
  } catch (err) {
    throw asTdxError(err, 'CertificateMalformed', `${what} could not be parsed`);
  }
}

/**
 * Whether `issuer` issued `cert`: names equal byte for byte, key identifiers equal when both are present, the
 * issuer allowed to sign certificates (keyCertSign) when it has a key usage extension, and the signature valid.
 */
function issuedAndSignedBy(cert: Cert, issuer: Cert): boolean {
  if (!bytesEqual(cert.issuerDer, issuer.subjectDer)) return false;
  const aki = keyId(cert.extensions.get(OID_AUTHORITY_KEY_ID), true);
  const ski = keyId(issuer.extensions.get(OID_SUBJECT_KEY_ID), false);
  if (aki && ski && !bytesEqual(aki, ski)) return false;
  const ku = issuer.extensions.get(OID_KEY_USAGE);
  // KeyUsage BIT STRING: byte 0 = unused bits, then bit 0 (0x80) digitalSignature … bit 5 (0x04) keyCertSign.
  if (ku && ((readOnly(ku).value[1] ?? 0) & 0x04) === 0) return false;
  return cryptoVerify('sha256', cert.tbs, issuer.publicKey, cert.signature);
}

/**
 * What one verification has parsed and checked so far. A certificate shows up in several chains of one quote and
 * its collateral (the root in all four, the TCB signer in two, the PCK CA in two), so each is parsed and each
 * (certificate, issuer) signature verified once per verification. Created per verification and dropped with it:
 * it never carries anything from one quote to the next (the explicit memo does that, when the caller passes one).
 */
export interface CertScope {
  /** Parsed certificates by their base64 DER. */
  readonly certs: Map<string, Cert>;
  /** Parsed chains by their PEM text. */
  readonly chains: Map<string, readonly Cert[]>;
  /** Certificates whose signature has verified with the key of the mapped issuer. */
  readonly signedBy: WeakMap<Cert, Cert>;
}

export function createCertScope(): CertScope {
  return { certs: new Map(), chains: new Map(), signedBy: new WeakMap() };
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/** Parses a PEM bundle (leaf first). */
export function parsePemChain(pem: string, what: string, scope?: CertScope): Cert[] {
  const known = scope?.chains.get(pem);
  if (known) return [...known];
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  const rest = pem.replace(PEM_BLOCK, '').trim();
  if (blocks.length === 0 || rest.length > 0) {
    throw new TdxError('CertificateMalformed', `${what} is not a PEM certificate list`);
  }
  const chain = blocks.map((block, i) => {
    const b64 = (block[1] ?? '').replace(/\s+/g, '');
    const cached = scope?.certs.get(b64);
    if (cached) return cached;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new TdxError('CertificateMalformed', `${what} certificate ${i} has invalid base64`);
    const cert = parseCertDer(new Uint8Array(Buffer.from(b64, 'base64')), `${what} certificate ${i}`);
    scope?.certs.set(b64, cert);
    return cert;
  });
  scope?.chains.set(pem, chain);
  return [...chain];
}

/** CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING } (RFC 5280 §5.1). */
export function parseCrl(der: Uint8Array, what: string): Crl {
  try {
    const outer = children(expectTag(readOnly(der), 0x30, what));
    if (outer.length !== 3) throw new TdxError('CrlMalformed', `${what} is not a CertificateList`);
    const [tbsTlv, outerAlg, sigBits] = outer as [Tlv, Tlv, Tlv];
    const tbs = children(expectTag(tbsTlv, 0x30, 'tbsCertList'));
    let i = tbs[0]?.tag === 0x02 ? 1 : 0;
    const innerAlg = tbs[i++];
    const issuer = expectTag(tbs[i++], 0x30, 'CRL issuer');
    const thisUpdate = readTime(tbs[i++], 'CRL thisUpdate');
    const next = tbs[i];
    if (!next || (next.tag !== 0x17 && next.tag !== 0x18)) throw new TdxError('CrlMalformed', `${what} has no nextUpdate`);
    const nextUpdate = readTime(next, 'CRL nextUpdate');
    i++;
    const revokedSerials = new Set<string>();
    if (tbs[i]?.tag === 0x30) {
      for (const entry of children(tbs[i] as Tlv)) {
        const [serial, date] = children(expectTag(entry, 0x30, 'CRL entry'));
        readTime(date, 'CRL entry revocationDate');
        revokedSerials.add(serialHex(expectTag(serial, 0x02, 'CRL entry serial').value));
      }
      i++;
    }
    if (tbs[i]?.tag === 0xa0) i++;
    if (i !== tbs.length) throw new TdxError('CrlMalformed', `${what} has unexpected fields in tbsCertList`);
    expectTag(sigBits, 0x03, 'CRL signatureValue');
    const signature = sigBits.value[0] === 0 ? sigBits.value.subarray(1) : undefined;
    return { der, tbs: tbsTlv.raw, issuerDer: issuer.raw, ecdsaSha256: isEcdsaSha256(outerAlg) && isEcdsaSha256(innerAlg), signature, thisUpdate, nextUpdate, revokedSerials };
  } catch (err) {
    throw asTdxError(err, 'CrlMalformed', `${what} could not be parsed`);
  }
}

/** CRL signature (ECDSA-SHA256 by `issuer`), issuer name equal to the issuer's subject, and freshness at `at`. */
export function checkCrl(crl: Crl, issuer: Cert, what: string): ValidityWindow {
  if (!crl.ecdsaSha256) throw new TdxError('CrlSignatureInvalid', `${what} is not signed with ECDSA-SHA256`);
  if (!crl.signature) throw new TdxError('CrlSignatureInvalid', `${what} signature BIT STRING has unused bits`);
  if (!bytesEqual(crl.issuerDer, issuer.subjectDer)) {
    throw new TdxError('CrlIssuerMismatch', `${what} issuer is not ${issuer.subjectCn}`);
  }
  const ok = cryptoVerify('sha256', crl.tbs, { key: issuer.publicKey, dsaEncoding: 'der' }, crl.signature);
  if (!ok) throw new TdxError('CrlSignatureInvalid', `${what} signature does not verify with the key of ${issuer.subjectCn}`);
  return { what, notBefore: crl.thisUpdate, notAfter: crl.nextUpdate, code: 'CrlExpired' };
}

export function checkWindow(w: ValidityWindow, at: Date): void {
  const t = at.getTime();
  const early = t < w.notBefore.getTime();
  if (early || t > w.notAfter.getTime()) {
    throw new TdxError(
      early ? (w.earlyCode ?? w.code) : w.code,
      `${w.what} is not valid at ${at.toISOString()} (valid ${w.notBefore.toISOString()} to ${w.notAfter.toISOString()})`,
    );
  }
}

export interface ChainCheck {
  /** Certificates leaf first, ending with the pinned root. */
  certs: Cert[];
  windows: ValidityWindow[];
}

/**
 * Validates `chain` (leaf first) to the pinned root: the last certificate must be the root byte for byte, each
 * other certificate must be issued and signed by the next, issuers must be CAs, and `crlFor(issuer)` (the CRL
 * issued by that issuer, already checked) must not list the certificate. The pinned root is the trust anchor:
 * as in RFC 5280 §6.1 its own self-signature is not part of path validation (it is compared byte for byte).
 * Time windows are returned, not checked here.
 */
export function checkChain(chain: Cert[], root: Cert, what: string, crlFor: (issuer: Cert) => Crl | undefined, scope?: CertScope): ChainCheck {
  const last = chain[chain.length - 1];
  if (chain.length < 2 || !last) throw new TdxError('CertificateChainInvalid', `${what} has fewer than two certificates`);
  if (!bytesEqual(last.der, root.der)) {
    throw new TdxError('RootCaMismatch', `${what} does not end in the pinned Intel SGX Root CA`);
  }
  const windows: ValidityWindow[] = [];
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i] as Cert;
    windows.push({ what: `${what} certificate "${cert.subjectCn}"`, notBefore: cert.notBefore, notAfter: cert.notAfter, code: 'CertificateExpired', earlyCode: 'CertificateNotYetValid' });
    if (i === chain.length - 1) break;
    const issuer = chain[i + 1] as Cert;
    if (!issuer.ca) throw new TdxError('CertificateChainInvalid', `${what}: issuer "${issuer.subjectCn}" is not a CA certificate`);
    if (scope?.signedBy.get(cert) !== issuer) {
      let issued: boolean;
      try {
        issued = issuedAndSignedBy(cert, issuer);
      } catch (err) {
        // The key identifier and key usage extensions are read only here; a DerError must not escape uncoded.
        throw asTdxError(err, 'CertificateMalformed', `${what}: certificate "${cert.subjectCn}" or its issuer "${issuer.subjectCn}" has a malformed key identifier or key usage`);
      }
      if (!issued) {
        throw new TdxError('CertificateChainInvalid', `${what}: certificate "${cert.subjectCn}" is not signed by "${issuer.subjectCn}"`);
      }
      scope?.signedBy.set(cert, issuer);
    }
    const crl = crlFor(issuer);
    if (!crl) throw new TdxError('CrlIssuerMismatch', `${what}: no CRL issued by "${issuer.subjectCn}" was supplied`);
    if (crl.revokedSerials.has(cert.serial)) {
      throw new TdxError('CertificateRevoked', `${what}: certificate "${cert.subjectCn}" (serial ${cert.serial}) is revoked by the CRL of "${issuer.subjectCn}"`);
    }
  }
  return { certs: chain, windows };
}
