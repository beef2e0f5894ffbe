// The strict certificate reader and the issued-by check (names, key identifiers, key usage, CA flag, signature),
// on certificates made for each case with @peculiar/x509.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, webcrypto } from 'node:crypto';
import type { webcrypto as WebCrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkChain, checkCrl, checkWindow, createCertScope, parseCertDer, parseCrl, parsePemChain } from './x509.ts';
import type { Cert, Crl, ValidityWindow } from './x509.ts';
import { TdxError } from './errors.ts';
import { oidBytes, readTime, readTlv } from './der.ts';
import { bytes, editOuter, editTbs, int, octets, oid, parts, seq, set, text, tlv } from '../../../test/support/der-build.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const validity = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2026-01-01T00:00:00Z') };
const caExt = (ku = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign) => [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(ku, true)];

async function keys(alg: { name: string; namedCurve: string } = P256): Promise<WebCrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as WebCrypto.CryptoKeyPair;
}

const failure = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof TdxError ? { code: err.code, message: err.message } : String(err);
  }
  return 'no error';
};

async function pki(o: { caKu?: number; caIsCa?: boolean; leafAki?: boolean; caSki?: boolean; leafIssuer?: string } = {}) {
  const rootKeys = await keys();
  const caKeys = await keys();
  const leafKeys = await keys();
  const root = await x509.X509CertificateGenerator.createSelfSigned({ ...validity, serialNumber: '01', name: 'CN=Root', keys: rootKeys, signingAlgorithm: P256, extensions: caExt() });
  const caExtensions: x509.Extension[] = o.caIsCa === false ? [new x509.BasicConstraintsExtension(false, undefined, true)] : caExt(o.caKu);
  if (o.caSki) caExtensions.push(await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey));
  const ca = await x509.X509CertificateGenerator.create({ ...validity, serialNumber: '02', subject: 'CN=CA', issuer: root.subject, publicKey: caKeys.publicKey, signingKey: rootKeys.privateKey, signingAlgorithm: P256, extensions: caExtensions });
  const leafExt: x509.Extension[] = [];
  if (o.leafAki) leafExt.push(new x509.AuthorityKeyIdentifierExtension('00112233'));
  const leaf = await x509.X509CertificateGenerator.create({ ...validity, serialNumber: '00ff', subject: 'CN=Leaf', issuer: o.leafIssuer ?? ca.subject, publicKey: leafKeys.publicKey, signingKey: caKeys.privateKey, signingAlgorithm: P256, extensions: leafExt });
  const crl = await x509.X509CrlGenerator.create({ issuer: ca.subject, thisUpdate: validity.notBefore, nextUpdate: validity.notAfter, signingAlgorithm: P256, signingKey: caKeys.privateKey, entries: [{ serialNumber: '7777', revocationDate: validity.notBefore, reason: x509.X509CrlReason.keyCompromise }] });
  const rootCrl = await x509.X509CrlGenerator.create({ issuer: root.subject, thisUpdate: validity.notBefore, nextUpdate: validity.notAfter, signingAlgorithm: P256, signingKey: rootKeys.privateKey, entries: [{ serialNumber: '7777', revocationDate: validity.notBefore, reason: x509.X509CrlReason.keyCompromise }] });
  const der = (c: x509.X509Certificate | x509.X509Crl) => new Uint8Array(c.rawData);
  return {
    root: parseCertDer(der(root), 'root'),
    ca: parseCertDer(der(ca), 'ca'),
    leaf: parseCertDer(der(leaf), 'leaf'),
    crl: parseCrl(der(crl), 'crl'),
    rootCrl: parseCrl(der(rootCrl), 'root crl'),
    raw: { leaf: der(leaf), ca: der(ca), root: der(root), crl: der(crl) },
    key: { root: KeyObject.from(rootKeys.privateKey), ca: KeyObject.from(caKeys.privateKey) },
  };
}

const chainOf = (p: { root: Cert; ca: Cert; leaf: Cert; crl: Crl; rootCrl: Crl }) => () =>
  checkChain([p.leaf, p.ca, p.root], p.root, 'test chain', (issuer) => (issuer === p.root ? p.rootCrl : issuer === p.ca ? p.crl : undefined), createCertScope());

describe('parseCertDer', () => {
  it('reads names, serial (without leading zeros), validity, CA flag and key', async () => {
    const p = await pki();
    expect([p.leaf.subjectCn, p.leaf.serial, p.leaf.notBefore.toISOString(), p.leaf.notAfter.toISOString(), p.leaf.ca, p.ca.ca]).toEqual(['Leaf', 'ff', '2025-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', false, true]);
    expect(p.leaf.publicKey.asymmetricKeyType).toBe('ec');
  });

  it('rejects a certificate not signed with ecdsa-with-SHA256, a non-P-256 key, and trailing bytes', async () => {
    const rootKeys = await keys();
    const sha384 = await x509.X509CertificateGenerator.createSelfSigned({ ...validity, serialNumber: '01', name: 'CN=R', keys: rootKeys, signingAlgorithm: { ...P256, hash: 'SHA-384' } });
    expect(failure(() => parseCertDer(new Uint8Array(sha384.rawData), 'cert'))).toEqual({ code: 'CertificateMalformed', message: 'cert could not be parsed: the signature algorithm is not ecdsa-with-SHA256' });
    const p384 = await keys({ name: 'ECDSA', namedCurve: 'P-384' });
    const other = await x509.X509CertificateGenerator.create({ ...validity, serialNumber: '02', subject: 'CN=K', issuer: 'CN=R', publicKey: p384.publicKey, signingKey: rootKeys.privateKey, signingAlgorithm: P256 });
    expect(failure(() => parseCertDer(new Uint8Array(other.rawData), 'cert'))).toEqual({ code: 'CertificateMalformed', message: 'cert could not be parsed: the public key is not a P-256 key' });
    const p = await pki();
    expect(failure(() => parseCertDer(Uint8Array.from([...p.raw.leaf, 0]), 'cert'))).toEqual({ code: 'CertificateMalformed', message: 'cert could not be parsed: trailing bytes after the element' });
  });

  it('rejects a repeated extension', async () => {
    const k = await keys();
    const dup = await x509.X509CertificateGenerator.createSelfSigned({ ...validity, serialNumber: '01', name: 'CN=R', keys: k, signingAlgorithm: P256, extensions: [...caExt(), new x509.BasicConstraintsExtension(true)] });
    expect(failure(() => parseCertDer(new Uint8Array(dup.rawData), 'cert'))).toEqual({ code: 'CertificateMalformed', message: 'cert could not be parsed: extension 2.5.29.19 appears twice' });
  });
});

describe('checkChain issued-by rules', () => {
  it('accepts a well-formed chain and returns every window', async () => {
    const checked = chainOf(await pki())();
    expect(checked.windows.map((w) => [w.what, w.code, w.earlyCode])).toEqual([
      ['test chain certificate "Leaf"', 'CertificateExpired', 'CertificateNotYetValid'],
      ['test chain certificate "CA"', 'CertificateExpired', 'CertificateNotYetValid'],
      ['test chain certificate "Root"', 'CertificateExpired', 'CertificateNotYetValid'],
    ]);
  });

  it('an issuer without keyCertSign, or that is not a CA, does not issue', async () => {
    expect(failure(chainOf(await pki({ caKu: x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature })))).toEqual({
      code: 'CertificateChainInvalid',
      message: 'test chain: certificate "Leaf" is not signed by "CA"',
    });
    expect(failure(chainOf(await pki({ caIsCa: false })))).toEqual({ code: 'CertificateChainInvalid', message: 'test chain: issuer "CA" is not a CA certificate' });
  });

  it('the issuer name must equal the issuer subject byte for byte, even when the key signed it', async () => {
    expect(failure(chainOf(await pki({ leafIssuer: 'CN=Other' })))).toEqual({ code: 'CertificateChainInvalid', message: 'test chain: certificate "Leaf" is not signed by "CA"' });
  });

  it('key identifiers must match when both are present (and are ignored when one is absent)', async () => {
    expect(failure(chainOf(await pki({ leafAki: true, caSki: true })))).toEqual({ code: 'CertificateChainInvalid', message: 'test chain: certificate "Leaf" is not signed by "CA"' });
    expect(failure(chainOf(await pki({ leafAki: true })))).toBe('no error');
  });

  it('a certificate signed by another key under the issuer name is refused; a CRL-listed serial is revoked', async () => {
    const a = await pki();
    const b = await pki();
    expect(failure(() => checkChain([a.leaf, b.ca, b.root], b.root, 'mixed', (i) => (i === b.root ? b.rootCrl : b.crl)))).toEqual({ code: 'CertificateChainInvalid', message: 'mixed: certificate "Leaf" is not signed by "CA"' });
    const revoked = { ...a.crl, revokedSerials: new Set(['ff']) };
    expect(failure(() => checkChain([a.leaf, a.ca, a.root], a.root, 'c', (i) => (i === a.root ? a.rootCrl : revoked)))).toEqual({ code: 'CertificateRevoked', message: 'c: certificate "Leaf" (serial ff) is revoked by the CRL of "CA"' });
    expect(failure(() => checkChain([a.leaf, a.ca, a.root], a.root, 'c', (i) => (i === a.root ? a.rootCrl : undefined)))).toEqual({ code: 'CrlIssuerMismatch', message: 'c: no CRL issued by "CA" was supplied' });
    expect(failure(() => checkChain([a.leaf, a.ca], a.root, 'short', () => a.crl))).toEqual({ code: 'RootCaMismatch', message: 'short does not end in the pinned Intel SGX Root CA' });
    expect(failure(() => checkChain([a.root], a.root, 'one', () => a.crl))).toEqual({ code: 'CertificateChainInvalid', message: 'one has fewer than two certificates' });
  });
});

describe('DER times', () => {
  const t = (tag: number, s: string) => readTlv(Uint8Array.from([tag, s.length, ...Buffer.from(s, 'latin1')]), 0);
  it('UTCTime years 50-99 are 19xx; out-of-range fields are refused', () => {
    expect(readTime(t(0x17, '500101000000Z'), 'x').toISOString()).toBe('1950-01-01T00:00:00.000Z');
    expect(readTime(t(0x17, '491231235959Z'), 'x').toISOString()).toBe('2049-12-31T23:59:59.000Z');
    for (const bad of ['250101240000Z', '250101006000Z', '250101000060Z', '250132000000Z', '2501010000a0Z', '250101000000+']) {
      expect(() => readTime(t(0x17, bad), 'x'), bad).toThrow();
    }
    expect(() => readTime(t(0x18, '250101000000Z'), 'x')).toThrow('x is not a DER UTCTime/GeneralizedTime');
  });
});

// Field surgery on a valid certificate or CRL: each case changes one field (re-signed where the signature matters).
const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const at = (i: number, x: Uint8Array) => (f: Uint8Array[]) => f.map((v, j) => (j === i ? x : v));
const insert = (i: number, ...x: Uint8Array[]) => (f: Uint8Array[]) => [...f.slice(0, i), ...x, ...f.slice(i)];
const utc = (s: string) => tlv(0x17, text(s));
/** The extensions of a tbsCertificate's fields (inside [3] { SEQUENCE }). */
const extensionsOf = (f: Uint8Array[]) => parts(parts(f[7] as Uint8Array)[0] as Uint8Array);
const withExtensions = (exts: Uint8Array[]) => (f: Uint8Array[]) => [...f.slice(0, 7), tlv(0xa3, seq(...exts))];
const extension = (id: string, value: Uint8Array) => seq(oid(id), octets(value));
const pem = (der: Uint8Array) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END CERTIFICATE-----\n`;

describe('parseCertDer: serial numbers as the CRLs compare them', () => {
  it('drops leading zero bytes and a leading zero digit, keeping a zero serial as "0"', async () => {
    const p = await pki();
    const serialOf = (hex: string) => parseCertDer(editTbs(p.raw.root, p.key.root, at(1, tlv(0x02, bytes(hex)))), 'cert').serial;
    expect(['00', '0100', '008001', '00ff', '0a0b0c', '7f'].map(serialOf)).toEqual(['0', '100', '8001', 'ff', 'a0b0c', '7f']);
  });
});

describe('parseCertDer: each structural check names its field', () => {
  const cases = async () => {
    const p = await pki();
    const tbs = (edit: (f: Uint8Array[]) => Uint8Array[]) => editTbs(p.raw.root, p.key.root, edit);
    const spki = (alg: Uint8Array) => (f: Uint8Array[]) => at(6, seq(alg, parts(f[6] as Uint8Array)[1] as Uint8Array))(f);
    const list: [string, Uint8Array, string][] = [
      ['not a SEQUENCE', int(1), 'certificate: expected tag 0x30'],
      ['four top-level elements', editOuter(p.raw.root, (f) => [...f, int(1)]), 'a certificate has exactly tbsCertificate, signatureAlgorithm and signatureValue'],
      ['tbsCertificate not a SEQUENCE', editOuter(p.raw.root, at(0, int(1))), 'tbsCertificate: expected tag 0x30'],
      ['no version (v1)', tbs((f) => f.slice(1)), 'version: expected tag 0xa0'],
      ['version 2', tbs(at(0, tlv(0xa0, int(1)))), 'only X.509 v3 certificates are accepted'],
      ['version INTEGER 0x0200', tbs(at(0, tlv(0xa0, tlv(0x02, bytes('0200'))))), 'only X.509 v3 certificates are accepted'],
      ['version ENUMERATED 2', tbs(at(0, tlv(0xa0, tlv(0x0a, bytes('02'))))), 'only X.509 v3 certificates are accepted'],
      ['empty version', tbs(at(0, tlv(0xa0))), 'only X.509 v3 certificates are accepted'],
      ['serial not an INTEGER', tbs(at(1, octets([1]))), 'serialNumber: expected tag 0x2'],
      ['outer algorithm ecdsa-with-SHA384', editOuter(p.raw.root, at(1, seq(oid('1.2.840.10045.4.3.3')))), 'the signature algorithm is not ecdsa-with-SHA256'],
      ['inner algorithm with NULL parameters', tbs(at(2, seq(oid(ECDSA_SHA256), tlv(0x05)))), 'the signature algorithm is not ecdsa-with-SHA256'],
      ['inner algorithm OID as an OCTET STRING', tbs(at(2, seq(octets(oidBytes(ECDSA_SHA256))))), 'the signature algorithm is not ecdsa-with-SHA256'],
      ['inner algorithm a SET', tbs(at(2, set(oid(ECDSA_SHA256)))), 'the signature algorithm is not ecdsa-with-SHA256'],
      ['inner algorithm primitive', tbs(at(2, int(1))), 'the signature algorithm is not ecdsa-with-SHA256'],
      ['issuer not a SEQUENCE', tbs(at(3, int(1))), 'issuer: expected tag 0x30'],
      ['validity not a SEQUENCE', tbs(at(4, int(1))), 'validity: expected tag 0x30'],
      ['validity with three times', tbs((f) => at(4, seq(...parts(f[4] as Uint8Array), utc('270101000000Z')))(f)), 'validity has extra fields'],
      ['notBefore not digits', tbs((f) => at(4, seq(utc('25010100000:Z'), parts(f[4] as Uint8Array)[1] as Uint8Array))(f)), 'notBefore is not a DER UTCTime/GeneralizedTime'],
      ['notAfter not digits', tbs((f) => at(4, seq(parts(f[4] as Uint8Array)[0] as Uint8Array, utc('26010100000:Z')))(f)), 'notAfter is not a DER UTCTime/GeneralizedTime'],
      ['subject not a SEQUENCE', tbs(at(5, int(1))), 'subject: expected tag 0x30'],
      ['subjectPublicKeyInfo not a SEQUENCE', tbs(at(6, int(1))), 'subjectPublicKeyInfo: expected tag 0x30'],
      ['key algorithm primitive', tbs(spki(int(1))), 'the public key is not a P-256 key'],
      ['empty subjectPublicKeyInfo', tbs(at(6, seq())), 'the public key is not a P-256 key'],
      ['key algorithm without curve', tbs(spki(seq(oid('1.2.840.10045.2.1')))), 'the public key is not a P-256 key'],
      ['key algorithm not id-ecPublicKey', tbs(spki(seq(oid('1.3.101.112'), oid('1.2.840.10045.3.1.7')))), 'the public key is not a P-256 key'],
      ['extensions [3] without a SEQUENCE', tbs((f) => [...f.slice(0, 7), tlv(0xa3, int(1))]), 'extensions: expected tag 0x30'],
      ['an extension not a SEQUENCE', tbs(withExtensions([int(1)])), 'extension: expected tag 0x30'],
      ['an extension id not an OID', tbs(withExtensions([seq(int(1), octets([0]))])), 'extension id: expected tag 0x6'],
      ['an extension value not an OCTET STRING', tbs(withExtensions([seq(oid('2.5.29.19'), int(1))])), 'extension value: expected tag 0x4'],
      ['basicConstraints not a SEQUENCE', tbs((f) => withExtensions([extension('2.5.29.19', int(5))])(f)), 'basicConstraints: expected tag 0x30'],
      ['a field after the extensions', tbs((f) => [...f, tlv(0xa4, int(1))]), 'tbsCertificate has unexpected fields'],
      ['signatureValue not a BIT STRING', editOuter(p.raw.root, at(2, octets([0, 1]))), 'signatureValue: expected tag 0x3'],
      ['signatureValue with unused bits', editOuter(p.raw.root, (f) => at(2, tlv(0x03, Uint8Array.of(1), (f[2] as Uint8Array).subarray(3)))(f)), 'signatureValue BIT STRING has unused bits'],
    ];
    return list;
  };
  it('refuses each malformed field with CertificateMalformed and a message naming it', async () => {
    for (const [label, der, message] of await cases()) {
      expect(failure(() => parseCertDer(der, 'cert')), label).toEqual({ code: 'CertificateMalformed', message: `cert could not be parsed: ${message}` });
    }
  });

  it('skips issuer/subject unique IDs (primitive or constructed) and reads a certificate without extensions', async () => {
    const p = await pki();
    for (const uid of [tlv(0x81, bytes('0001')), tlv(0xa1, tlv(0x03, bytes('0001'))), tlv(0x82, bytes('0001')), tlv(0xa2, tlv(0x03, bytes('0001')))]) {
      const c = parseCertDer(editTbs(p.raw.root, p.key.root, insert(7, uid)), 'cert');
      expect([c.subjectCn, c.ca, c.extensions.size], Buffer.from(uid).toString('hex')).toEqual(['Root', true, 2]);
    }
    const bare = parseCertDer(editTbs(p.raw.root, p.key.root, (f) => f.slice(0, 7)), 'cert');
    expect([bare.subjectCn, bare.ca, bare.extensions.size]).toEqual(['Root', false, 0]);
    const uidOnly = parseCertDer(editTbs(p.raw.root, p.key.root, (f) => [...f.slice(0, 7), tlv(0x81, bytes('0001'))]), 'cert');
    expect([uidOnly.ca, uidOnly.extensions.size]).toEqual([false, 0]);
  });

  it('cA is TRUE only as the DER BOOLEAN 0xff', async () => {
    const p = await pki();
    const caWith = (boolean: string) => parseCertDer(editTbs(p.raw.root, p.key.root, withExtensions([extension('2.5.29.19', seq(tlv(0x01, bytes(boolean))))])), 'cert').ca;
    expect(['ff', '01', 'ffff', '00'].map(caWith)).toEqual([true, false, false, false]);
  });

  it('subject CN: the commonName attribute wherever it is, UTF8String as UTF-8, other strings as Latin-1, "" without one', async () => {
    const p = await pki();
    const cnOf = (subject: Uint8Array) => parseCertDer(editTbs(p.raw.root, p.key.root, at(5, subject)), 'cert').subjectCn;
    const atv = (type: string, value: Uint8Array) => set(seq(oid(type), value));
    expect(cnOf(seq(atv('2.5.4.6', tlv(0x13, text('US'))), atv('2.5.4.3', tlv(0x0c, text('Leaf')))))).toBe('Leaf');
    expect(cnOf(seq(set(seq(oid('2.5.4.10'), tlv(0x0c, text('Org'))), seq(oid('2.5.4.3'), tlv(0x0c, text('Multi'))))))).toBe('Multi');
    expect(cnOf(seq(atv('2.5.4.3', tlv(0x0c, text('Zürich', 'utf8')))))).toBe('Zürich');
    expect(cnOf(seq(atv('2.5.4.3', tlv(0x14, text('Zürich', 'latin1')))))).toBe('Zürich');
    expect(cnOf(seq(atv('2.5.4.10', tlv(0x0c, text('Org')))))).toBe('');
  });
});

describe('parsePemChain', () => {
  it('names the bundle and the certificate that is bad', async () => {
    const p = await pki();
    expect(failure(() => parsePemChain('junk', 'bundle'))).toEqual({ code: 'CertificateMalformed', message: 'bundle is not a PEM certificate list' });
    for (const b64 of ['!!!!', '!!!!AAAA', 'AAAA!!!!', 'AAAA===']) {
      expect(failure(() => parsePemChain(pem(p.raw.leaf) + `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----`, 'bundle')), b64).toEqual({ code: 'CertificateMalformed', message: 'bundle certificate 1 has invalid base64' });
    }
    expect(failure(() => parsePemChain(pem(p.raw.leaf) + pem(int(1)), 'bundle'))).toEqual({ code: 'CertificateMalformed', message: 'bundle certificate 1 could not be parsed: certificate: expected tag 0x30' });
  });

  it('a scope parses each PEM text and each certificate once', async () => {
    const p = await pki();
    const scope = createCertScope();
    expect([scope.certs.size, scope.chains.size]).toEqual([0, 0]);
    const first = parsePemChain(pem(p.raw.leaf) + pem(p.raw.ca), 'bundle', scope);
    expect([scope.certs.size, scope.chains.size]).toEqual([2, 1]);
    // Another PEM text holding the same certificate gives the same parsed object.
    const again = parsePemChain(`\n${pem(p.raw.ca)}\n`, 'other', scope);
    expect(again[0]).toBe(first[1]);
    // The chain is looked up by its exact text before any parsing.
    scope.chains.set('cached text', [p.root]);
    expect(parsePemChain('cached text', 'cached', scope)).toEqual([p.root]);
    expect(failure(() => parsePemChain('cached text', 'cached'))).toEqual({ code: 'CertificateMalformed', message: 'cached is not a PEM certificate list' });
  });
});

describe('parseCrl: each structural check names its field', () => {
  it('refuses each malformed field with CrlMalformed', async () => {
    const p = await pki();
    const tbs = (edit: (f: Uint8Array[]) => Uint8Array[]) => editTbs(p.raw.crl, p.key.ca, edit);
    const entry = (f: Uint8Array[]) => parts(parts(f[5] as Uint8Array)[0] as Uint8Array);
    const withEntry = (e: Uint8Array) => (f: Uint8Array[]) => at(5, seq(e))(f);
    const list: [string, Uint8Array, string][] = [
      ['four top-level elements', editOuter(p.raw.crl, (f) => [...f, int(1)]), 'crl is not a CertificateList'],
      ['two top-level elements', editOuter(p.raw.crl, (f) => f.slice(0, 2)), 'crl is not a CertificateList'],
      ['tbsCertList not a SEQUENCE', editOuter(p.raw.crl, at(0, int(1))), 'crl could not be parsed: tbsCertList: expected tag 0x30'],
      ['empty tbsCertList', editOuter(p.raw.crl, at(0, seq())), 'crl could not be parsed: CRL issuer: expected tag 0x30'],
      ['issuer not a SEQUENCE', tbs(at(2, int(1))), 'crl could not be parsed: CRL issuer: expected tag 0x30'],
      ['thisUpdate not digits', tbs(at(3, utc('25010100000:Z'))), 'crl could not be parsed: CRL thisUpdate is not a DER UTCTime/GeneralizedTime'],
      ['nextUpdate not digits', tbs(at(4, utc('26010100000:Z'))), 'crl could not be parsed: CRL nextUpdate is not a DER UTCTime/GeneralizedTime'],
      ['no nextUpdate (entries follow thisUpdate)', tbs((f) => [...f.slice(0, 4), ...f.slice(5)]), 'crl has no nextUpdate'],
      ['no nextUpdate and nothing after thisUpdate', tbs((f) => f.slice(0, 4)), 'crl has no nextUpdate'],
      ['an entry not a SEQUENCE', tbs(withEntry(int(1))), 'crl could not be parsed: CRL entry: expected tag 0x30'],
      ['an entry serial not an INTEGER', tbs((f) => withEntry(seq(octets([1]), ...entry(f).slice(1)))(f)), 'crl could not be parsed: CRL entry serial: expected tag 0x2'],
      ['an entry date not digits', tbs((f) => withEntry(seq(entry(f)[0] as Uint8Array, utc('25010100000:Z')))(f)), 'crl could not be parsed: CRL entry revocationDate is not a DER UTCTime/GeneralizedTime'],
      ['a field after the extensions', tbs((f) => [...f, int(1)]), 'crl has unexpected fields in tbsCertList'],
      ['signatureValue not a BIT STRING', editOuter(p.raw.crl, at(2, octets([0, 1]))), 'crl could not be parsed: CRL signatureValue: expected tag 0x3'],
    ];
    for (const [label, der, message] of list) expect(failure(() => parseCrl(der, 'crl')), label).toEqual({ code: 'CrlMalformed', message });
  });

  it('reads v1 CRLs (no version), GeneralizedTime nextUpdate, CRLs without entries, and entry serials like certificate serials', async () => {
    const p = await pki();
    const tbs = (edit: (f: Uint8Array[]) => Uint8Array[]) => parseCrl(editTbs(p.raw.crl, p.key.ca, edit), 'crl');
    expect([...p.crl.revokedSerials]).toEqual(['7777']);
    expect([...tbs((f) => f.slice(1)).revokedSerials]).toEqual(['7777']);
    expect(tbs(at(4, tlv(0x18, text('20491231235959Z')))).nextUpdate.toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(tbs((f) => [...f.slice(0, 5), ...f.slice(6)]).revokedSerials.size).toBe(0);
    const entries = seq(...['00', '0100', '008001'].map((s) => seq(tlv(0x02, bytes(s)), utc('250101000000Z'))));
    expect([...tbs(at(5, entries)).revokedSerials]).toEqual(['0', '100', '8001']);
  });
});

describe('checkCrl', () => {
  const crlFailure = (crl: Crl, issuer: Cert) => failure(() => checkCrl(crl, issuer, 'crl'));
  it('returns the CRL window when signature, algorithm and issuer are right', async () => {
    const p = await pki();
    expect(checkCrl(p.crl, p.ca, 'crl')).toEqual({ what: 'crl', notBefore: validity.notBefore, notAfter: validity.notAfter, code: 'CrlExpired' });
  });
  it('both algorithm identifiers must be ecdsa-with-SHA256', async () => {
    const p = await pki();
    const sha384 = seq(oid('1.2.840.10045.4.3.3'));
    const expected = { code: 'CrlSignatureInvalid', message: 'crl is not signed with ECDSA-SHA256' };
    expect(crlFailure(parseCrl(editOuter(p.raw.crl, at(1, sha384)), 'crl'), p.ca)).toEqual(expected);
    expect(crlFailure(parseCrl(editTbs(p.raw.crl, p.key.ca, at(1, sha384)), 'crl'), p.ca)).toEqual(expected);
    for (const alg of [int(1), set(oid(ECDSA_SHA256)), seq(), seq(octets(oidBytes(ECDSA_SHA256))), seq(oid(ECDSA_SHA256), tlv(0x05))]) {
      expect(crlFailure(parseCrl(editOuter(p.raw.crl, at(1, alg)), 'crl'), p.ca), Buffer.from(alg).toString('hex')).toEqual(expected);
    }
  });
  it('refuses a signature BIT STRING with unused bits, another issuer name, and another key under the same name', async () => {
    const p = await pki();
    const unused = editOuter(p.raw.crl, (f) => at(2, tlv(0x03, Uint8Array.of(1), (f[2] as Uint8Array).subarray(3)))(f));
    expect(crlFailure(parseCrl(unused, 'crl'), p.ca)).toEqual({ code: 'CrlSignatureInvalid', message: 'crl signature BIT STRING has unused bits' });
    expect(crlFailure(p.rootCrl, p.ca)).toEqual({ code: 'CrlIssuerMismatch', message: 'crl issuer is not CA' });
    const other = await pki();
    expect(crlFailure(other.crl, p.ca)).toEqual({ code: 'CrlSignatureInvalid', message: 'crl signature does not verify with the key of CA' });
  });
});

describe('checkWindow', () => {
  const w: ValidityWindow = { what: 'thing', notBefore: validity.notBefore, notAfter: validity.notAfter, code: 'CertificateExpired', earlyCode: 'CertificateNotYetValid' };
  const codeAt = (win: ValidityWindow, t: number) => {
    const f = failure(() => checkWindow(win, new Date(t)));
    return typeof f === 'string' ? f : f.code;
  };
  it('is inclusive at both ends, with its own code before notBefore where the window has one', () => {
    const nb = validity.notBefore.getTime();
    const na = validity.notAfter.getTime();
    expect([nb - 1, nb, na, na + 1].map((t) => codeAt(w, t))).toEqual(['CertificateNotYetValid', 'no error', 'no error', 'CertificateExpired']);
    const crl: ValidityWindow = { what: 'crl', notBefore: validity.notBefore, notAfter: validity.notAfter, code: 'CrlExpired' };
    expect([nb - 1, na + 1].map((t) => codeAt(crl, t))).toEqual(['CrlExpired', 'CrlExpired']);
    expect(failure(() => checkWindow(w, new Date(na + 1000)))).toEqual({ code: 'CertificateExpired', message: 'thing is not valid at 2026-01-01T00:00:01.000Z (valid 2025-01-01T00:00:00.000Z to 2026-01-01T00:00:00.000Z)' });
  });
});

describe('checkChain: key identifiers and key usage', () => {
  /** The leaf re-issued by the CA with `exts` as its extensions. */
  const leafWith = (p: Awaited<ReturnType<typeof pki>>, exts: Uint8Array[]) => parseCertDer(editTbs(p.raw.leaf, p.key.ca, withExtensions(exts)), 'leaf');
  const chain = (p: Awaited<ReturnType<typeof pki>>, leaf: Cert, ca: Cert = p.ca) => () => checkChain([leaf, ca, p.root], p.root, 'test chain', (i) => (i === p.root ? p.rootCrl : p.crl));

  it('an authorityKeyIdentifier without keyIdentifier is not compared', async () => {
    const p = await pki({ caSki: true });
    const noKeyId = extension('2.5.29.35', seq(tlv(0xa1, tlv(0xa4, seq())), tlv(0x82, bytes('02'))));
    expect(failure(chain(p, leafWith(p, [noKeyId])))).toBe('no error');
    const keyId = (id: Uint8Array) => extension('2.5.29.35', seq(tlv(0x80, id)));
    const ski = p.ca.extensions.get('2.5.29.14') as Uint8Array;
    expect(failure(chain(p, leafWith(p, [keyId(ski.subarray(2))])))).toBe('no error');
    expect(failure(chain(p, leafWith(p, [keyId(bytes('00112233'))])))).toEqual({ code: 'CertificateChainInvalid', message: 'test chain: certificate "Leaf" is not signed by "CA"' });
  });

  it('a malformed key identifier or key usage is CertificateMalformed, naming the certificates and the field', async () => {
    const p = await pki({ caSki: true });
    expect(failure(chain(p, leafWith(p, [extension('2.5.29.35', octets([1]))])))).toEqual({
      code: 'CertificateMalformed',
      message: 'test chain: certificate "Leaf" or its issuer "CA" has a malformed key identifier or key usage: authorityKeyIdentifier: expected tag 0x30',
    });
    const caExts = (exts: Uint8Array[]) => parseCertDer(editTbs(p.raw.ca, p.key.root, (f) => withExtensions([...extensionsOf(f).filter((e) => !Buffer.from(parts(e)[0] as Uint8Array).equals(oid('2.5.29.14'))), ...exts])(f)), 'ca');
    const leafAki = leafWith(p, [extension('2.5.29.35', seq(tlv(0x80, bytes('00112233'))))]);
    expect(failure(chain(p, leafAki, caExts([extension('2.5.29.14', int(5))])))).toEqual({
      code: 'CertificateMalformed',
      message: 'test chain: certificate "Leaf" or its issuer "CA" has a malformed key identifier or key usage: subjectKeyIdentifier: expected tag 0x4',
    });
    const caNoKu = parseCertDer(editTbs(p.raw.ca, p.key.root, (f) => withExtensions([...extensionsOf(f).filter((e) => !Buffer.from(parts(e)[0] as Uint8Array).equals(oid('2.5.29.15'))), extension('2.5.29.15', bytes('0302'))])(f)), 'ca');
    expect(failure(chain(p, leafWith(p, []), caNoKu))).toEqual({
      code: 'CertificateMalformed',
      message: 'test chain: certificate "Leaf" or its issuer "CA" has a malformed key identifier or key usage: element runs past the end of its container',
    });
  });
});
