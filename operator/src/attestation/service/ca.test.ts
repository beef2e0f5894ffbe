import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { advance, anchorsPem, AsCaError, beginRotation, generateAsKeyset, initialCaState, issueServingCert, needsRotation, parseCaState, type AsKeyset } from './ca.ts';

const T0 = Date.parse('2026-12-04T00:00:00Z');
const H = 3_600_000;
let a: AsKeyset;
let b: AsKeyset;
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
const anchors = (pem: string) => pem.split(/(?=-----BEGIN CERTIFICATE-----)/).filter(Boolean).map(fp);

beforeAll(async () => {
  [a, b] = await Promise.all([generateAsKeyset({ now: T0 }), generateAsKeyset({ now: T0 })]);
});

describe('attestation service CA', () => {
  it('a keyset: a CA certifying the EAR signing key; serving certificates for the given names', async () => {
    const ca = new X509Certificate(a.caCertPem);
    expect(ca.ca).toBe(true);
    expect(new X509Certificate(a.signerCertPem).verify(ca.publicKey)).toBe(true);
    const tls = await issueServingCert(a, ['127.0.0.1', 'as.ns.svc'], { now: T0 });
    const leaf = new X509Certificate(tls.cert);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toContain('DNS:as.ns.svc');
    expect(leaf.subjectAltName).toContain('IP Address:127.0.0.1');
  });

  it('rotation: publish the new CA first, sign with it after the overlap, keep the old one for another overlap, then drop it', () => {
    const s0 = initialCaState(a);
    expect(anchors(anchorsPem(s0, T0))).toEqual([fp(a.caCertPem)]);
    const s1 = beginRotation(s0, b, T0, 24 * 3600);
    expect(() => beginRotation(s1, a, T0, 60)).toThrow(AsCaError);
    expect(anchors(anchorsPem(s1, T0 + H))).toEqual([fp(a.caCertPem), fp(b.caCertPem)]);
    expect(advance(s1, T0 + 23 * H).active).toBe(a);
    const s2 = advance(s1, T0 + 24 * H);
    expect(s2.active).toBe(b);
    expect(anchors(anchorsPem(s2, T0 + 30 * H))).toEqual([fp(b.caCertPem), fp(a.caCertPem)]);
    expect(anchors(anchorsPem(s2, T0 + 48 * H))).toEqual([fp(b.caCertPem)]);
    expect(advance(s2, T0 + 48 * H).retired).toBeUndefined();
  });

  it('asks for a rotation only near expiry and not while one is in progress', () => {
    const s = initialCaState(a);
    expect(needsRotation(s, T0, 30 * 86400)).toBe(false);
    expect(needsRotation(s, T0 + 340 * 86400 * 1000, 30 * 86400)).toBe(true);
    expect(needsRotation(beginRotation(s, b, T0, 60), T0 + 340 * 86400 * 1000, 30 * 86400)).toBe(false);
  });

  it('parses persisted state and refuses keys that do not match their certificates', () => {
    const s = beginRotation(initialCaState(a), b, T0, 60);
    expect(parseCaState(JSON.stringify(s))).toEqual(s);
    expect(() => parseCaState('{')).toThrow('state.json is not JSON');
    expect(() => parseCaState(JSON.stringify({ version: 2 }))).toThrow('version must be 1');
    expect(() => parseCaState(JSON.stringify({ version: 1, active: { ...a, signerKeyPem: b.signerKeyPem } }))).toThrow('active: signer key does not match its certificate');
    expect(() => parseCaState(JSON.stringify({ version: 1, active: { ...a, signerCertPem: b.signerCertPem, signerKeyPem: b.signerKeyPem } }))).toThrow('signer certificate is not issued by the CA');
    expect(() => parseCaState(JSON.stringify({ version: 1, active: a, next: { keyset: b, activateAt: 'soon', overlapSeconds: 1 } }))).toThrow('next.activateAt must be an RFC 3339 time');
  });
});
