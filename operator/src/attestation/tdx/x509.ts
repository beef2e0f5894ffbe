// X.509 certificates and CRLs for the DCAP chains: parsing, chain validation at an injected time, and CRL
// checks that cover the CRL's own signature, its issuer and its freshness (not just serial numbers).
import { X509Certificate, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { TdxError, asTdxError } from './errors.ts';
import { bytesEqual } from './bytes.ts';
import { children, expectTag, oidBytes, readOnly, readTime } from './der.ts';
import type { Tlv } from './der.ts';

const ECDSA_SHA256 = oidBytes('1.2.840.10045.4.3.2');

export interface Cert {
  der: Uint8Array;
  x509: X509Certificate;
  /** Raw DER of the subject Name (compared byte for byte with CRL issuers, as Intel's QVL does). */
  subjectDer: Uint8Array;
  /** Extension values (the OCTET STRING content) by dotted OID. */
  extensions: Map<string, Uint8Array>;
  publicKey: KeyObject;
  subjectCn: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
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
  code: 'CertificateExpired' | 'CrlExpired' | 'TcbInfoExpired' | 'QeIdentityExpired';
}

function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

function isEcdsaSha256(alg: Tlv | undefined): boolean {
  if (!alg || alg.tag !== 0x30) return false;
  const [oid, ...params] = children(alg);
  return oid?.tag === 0x06 && bytesEqual(oid.value, ECDSA_SHA256) && params.length === 0;
}

function oidText(bytes: Uint8Array): string {
  const parts: number[] = [Math.floor((bytes[0] ?? 0) / 40), (bytes[0] ?? 0) % 40];
  let v = 0;
  for (const b of bytes.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** Subject name and extensions from the tbsCertificate (version, serial, alg, issuer, validity, subject, spki, ...). */
function certFields(der: Uint8Array): { subjectDer: Uint8Array; extensions: Map<string, Uint8Array> } {
  const [tbs] = children(expectTag(readOnly(der), 0x30, 'certificate'));
  const fields = children(expectTag(tbs, 0x30, 'tbsCertificate'));
  const i = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = expectTag(fields[i + 4], 0x30, 'subject');
  const extensions = new Map<string, Uint8Array>();
  const extField = fields.find((f) => f.tag === 0xa3);
  if (extField) {
    for (const ext of children(expectTag(children(extField)[0], 0x30, 'extensions'))) {
      const parts = children(expectTag(ext, 0x30, 'extension'));
      const oid = expectTag(parts[0], 0x06, 'extension id');
      const value = expectTag(parts[parts.length - 1], 0x04, 'extension value');
      extensions.set(oidText(oid.value), value.value);
    }
  }
  return { subjectDer: subject.raw, extensions };
}

export function parseCertDer(der: Uint8Array, what: string): Cert {
  try {
    const x509 = new X509Certificate(der);
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1] ?? '';
    return {
      der,
      x509,
      ...certFields(der),
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
        revokedSerials.add(normalizeSerial(Buffer.from(expectTag(serial, 0x02, 'CRL entry serial').value).toString('hex')));
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
