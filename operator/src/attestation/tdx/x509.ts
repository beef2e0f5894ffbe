// X.509 certificates and CRLs for the DCAP chains: parsing, chain validation at an injected time, and CRL
// checks that cover the CRL's own signature, its issuer and its freshness (not just serial numbers).
import { X509Certificate, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { TdxError, asTdxError } from './errors.ts';
import { bytesEqual } from './bytes.ts';

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';

export interface Cert {
  der: Uint8Array;
  x509: X509Certificate;
  parsed: pkijs.Certificate;
  publicKey: KeyObject;
  subjectCn: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

export interface Crl {
  der: Uint8Array;
  parsed: pkijs.CertificateRevocationList;
  thisUpdate: Date;
  nextUpdate: Date;
  revokedSerials: Set<string>;
}

/** A time window some verified item is valid in; the hot path re-checks these against `at`. */
export interface ValidityWindow {
  what: string;
  notBefore: Date;
  notAfter: Date;
  code: 'CertificateExpired' | 'CrlExpired' | 'TcbInfoExpired' | 'QeIdentityExpired';
}

function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

/** DER must be exactly one ASN.1 element: no trailing bytes accepted. */
function strictAsn1(der: Uint8Array, what: string, code: 'CertificateMalformed' | 'CrlMalformed'): asn1js.AsnType {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1 || parsed.offset !== der.length) {
    throw new TdxError(code, `${what} is not a single well-formed DER element`);
  }
  return parsed.result;
}

export function parseCertDer(der: Uint8Array, what: string): Cert {
  try {
    const asn = strictAsn1(der, what, 'CertificateMalformed');
    const parsed = new pkijs.Certificate({ schema: asn });
    const x509 = new X509Certificate(der);
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1] ?? '';
    return {
      der,
      x509,
      parsed,
      publicKey: x509.publicKey,
      subjectCn: cn,
      serial: normalizeSerial(x509.serialNumber),
      notBefore: x509.validFromDate,
      notAfter: x509.validToDate,
    };
  } catch (err) {
    throw asTdxError(err, 'CertificateMalformed', `${what} could not be parsed`);
  }
}

/** Parses a PEM bundle (leaf first). */
export function parsePemChain(pem: string, what: string): Cert[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const rest = pem.replace(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g, '').trim();
  if (blocks.length === 0 || rest.length > 0) {
    throw new TdxError('CertificateMalformed', `${what} is not a PEM certificate list`);
  }
  return blocks.map((block, i) => {
    const b64 = block.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new TdxError('CertificateMalformed', `${what} certificate ${i} has invalid base64`);
    return parseCertDer(new Uint8Array(Buffer.from(b64, 'base64')), `${what} certificate ${i}`);
  });
}

export function parseCrl(der: Uint8Array, what: string): Crl {
  try {
    const asn = strictAsn1(der, what, 'CrlMalformed');
    const parsed = new pkijs.CertificateRevocationList({ schema: asn });
    if (!parsed.nextUpdate) throw new TdxError('CrlMalformed', `${what} has no nextUpdate`);
    const revokedSerials = new Set(
      (parsed.revokedCertificates ?? []).map((r) => normalizeSerial(Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex'))),
    );
    return { der, parsed, thisUpdate: parsed.thisUpdate.value, nextUpdate: parsed.nextUpdate.value, revokedSerials };
  } catch (err) {
    throw asTdxError(err, 'CrlMalformed', `${what} could not be parsed`);
  }
}

/** CRL signature (ECDSA-SHA256 by `issuer`), issuer name equal to the issuer's subject, and freshness at `at`. */
export function checkCrl(crl: Crl, issuer: Cert, what: string): ValidityWindow {
  const alg = crl.parsed.signatureAlgorithm.algorithmId;
  if (alg !== ECDSA_SHA256 || crl.parsed.signature.algorithmId !== ECDSA_SHA256) {
    throw new TdxError('CrlSignatureInvalid', `${what} is not signed with ECDSA-SHA256`);
  }
  if (crl.parsed.signatureValue.valueBlock.unusedBits !== 0) throw new TdxError('CrlSignatureInvalid', `${what} signature BIT STRING has unused bits`);
  if (!crl.parsed.issuer.isEqual(issuer.parsed.subject)) {
    throw new TdxError('CrlIssuerMismatch', `${what} issuer is not ${issuer.subjectCn}`);
  }
  const ok = cryptoVerify(
    'sha256',
    crl.parsed.tbsView,
    { key: issuer.publicKey, dsaEncoding: 'der' },
    crl.parsed.signatureValue.valueBlock.valueHexView,
  );
  if (!ok) throw new TdxError('CrlSignatureInvalid', `${what} signature does not verify with the key of ${issuer.subjectCn}`);
  return { what, notBefore: crl.thisUpdate, notAfter: crl.nextUpdate, code: 'CrlExpired' };
}

export function checkWindow(w: ValidityWindow, at: Date): void {
  const t = at.getTime();
  if (t < w.notBefore.getTime() || t > w.notAfter.getTime()) {
    throw new TdxError(
      w.code,
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
 * certificate must be issued and signed by the next, issuers must be CAs, and `crlFor(i)` (the CRL issued by
 * certificate i+1, already checked) must not list certificate i. Time windows are returned, not checked here.
 */
export function checkChain(chain: Cert[], root: Cert, what: string, crlFor: (issuer: Cert) => Crl | undefined): ChainCheck {
  const last = chain[chain.length - 1];
  if (chain.length < 2 || !last) throw new TdxError('CertificateChainInvalid', `${what} has fewer than two certificates`);
  if (!bytesEqual(last.der, root.der)) {
    throw new TdxError('RootCaMismatch', `${what} does not end in the pinned Intel SGX Root CA`);
  }
  const windows: ValidityWindow[] = [];
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i] as Cert;
    const issuer = chain[Math.min(i + 1, chain.length - 1)] as Cert;
    windows.push({ what: `${what} certificate "${cert.subjectCn}"`, notBefore: cert.notBefore, notAfter: cert.notAfter, code: 'CertificateExpired' });
    if (!issuer.x509.ca) throw new TdxError('CertificateChainInvalid', `${what}: issuer "${issuer.subjectCn}" is not a CA certificate`);
    if (!cert.x509.checkIssued(issuer.x509) || !cert.x509.verify(issuer.publicKey)) {
      throw new TdxError('CertificateChainInvalid', `${what}: certificate "${cert.subjectCn}" is not signed by "${issuer.subjectCn}"`);
    }
    if (i === chain.length - 1) break;
    const crl = crlFor(issuer);
    if (!crl) throw new TdxError('CrlIssuerMismatch', `${what}: no CRL issued by "${issuer.subjectCn}" was supplied`);
    if (crl.revokedSerials.has(cert.serial)) {
      throw new TdxError('CertificateRevoked', `${what}: certificate "${cert.subjectCn}" (serial ${cert.serial}) is revoked by the CRL of "${issuer.subjectCn}"`);
    }
  }
  return { certs: chain, windows };
}
