// The strict certificate reader and the issued-by check (names, key identifiers, key usage, CA flag, signature),
// on certificates made for each case with @peculiar/x509.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import type { webcrypto as WebCrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkChain, createCertScope, parseCertDer, parseCrl } from './x509.ts';
import type { Cert, Crl } from './x509.ts';
import { TdxError } from './errors.ts';
import { readTime, readTlv } from './der.ts';

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
  return { root: parseCertDer(der(root), 'root'), ca: parseCertDer(der(ca), 'ca'), leaf: parseCertDer(der(leaf), 'leaf'), crl: parseCrl(der(crl), 'crl'), rootCrl: parseCrl(der(rootCrl), 'root crl'), raw: { leaf: der(leaf) } };
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
