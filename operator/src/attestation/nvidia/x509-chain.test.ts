import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { H100_2023, H100_550, ROOT_PEMS, failure } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { makeCert, makeTestPki, makeDeviceLeaf } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { toHex } from './bytes.ts';
import { leafFwids } from './fwid.ts';
import { NVIDIA_DEVICE_IDENTITY_ROOT_PEM, NVIDIA_RIM_ROOT_PEM, loadTrustAnchors } from './roots.ts';
import { parsePemChain, verifyChain, type ParsedCert } from './x509-chain.ts';

const anchors = loadTrustAnchors();
const at = H100_2023.pinnedTime;

const chainOf = (...certs: { pem: string }[]): ParsedCert[] => parsePemChain(certs.map((c) => c.pem).join(''), 'test chain');

describe('pinned roots', () => {
  it('are byte-identical to the NVIDIA fixture roots', () => {
    expect(NVIDIA_DEVICE_IDENTITY_ROOT_PEM.trim()).toBe(ROOT_PEMS.device.trim());
    expect(NVIDIA_RIM_ROOT_PEM.trim()).toBe(ROOT_PEMS.rim.trim());
    expect(anchors.deviceRoot.name).toBe('NVIDIA Device Identity CA');
    expect(anchors.rimRoot.name).toBe('NVIDIA CoRIM signing Root CA');
  });
});

describe('device certificate chains', () => {
  it('verifies both captured 5-certificate H100 chains to the Device Identity CA', () => {
    for (const pem of [H100_2023.chainPem, H100_550.chainPem]) {
      const chain = parsePemChain(pem, 'device');
      expect(chain).toHaveLength(5);
      const w = verifyChain(chain, anchors.deviceRoot, at, 'device');
      expect(w.notAfter.toISOString()).toBe('9999-12-31T23:59:59.000Z');
    }
  });

  it('also verifies when the root is not appended', () => {
    const chain = parsePemChain(H100_2023.chainPem, 'device').slice(0, 4);
    expect(() => verifyChain(chain, anchors.deviceRoot, at, 'device')).not.toThrow();
  });

  it('rejects a chain to another root', () => {
    const pki = makeTestPki();
    const chain = chainOf(makeDeviceLeaf(pki), pki.deviceProvisioner, pki.deviceIdentity, pki.deviceRoot);
    const err = failure(() => verifyChain(chain, anchors.deviceRoot, at, 'device'));
    expect(err.code).toBe('DeviceChainUntrusted');
    // and the NVIDIA chain does not verify to a test root
    const test = parsePemChain(pki.deviceRoot.pem, 'root')[0] as ParsedCert;
    expect(failure(() => verifyChain(parsePemChain(H100_2023.chainPem, 'd'), test, at, 'device')).code).toBe('DeviceChainUntrusted');
  });

  it('rejects expired or not-yet-valid certificates with the validity window in the message', () => {
    const pki = makeTestPki();
    const old = makeCert({ cn: 'Old ICA', issuer: pki.deviceRoot, ca: true, notAfter: new Date('2023-01-01T00:00:00Z') });
    const leaf = makeCert({ cn: 'Leaf', issuer: old });
    const root = parsePemChain(pki.deviceRoot.pem, 'root')[0] as ParsedCert;
    const err = failure(() => verifyChain(chainOf(leaf, old), root, at, 'device'));
    expect(err.code).toBe('DeviceCertExpired');
    expect(err.message).toMatch(/'Old ICA' is not valid at 2024-06-01/);
    expect(failure(() => verifyChain(parsePemChain(H100_2023.chainPem, 'd'), anchors.deviceRoot, new Date('2019-01-01'), 'device')).code).toBe(
      'DeviceCertExpired',
    );
  });

  it('enforces CA constraints: basicConstraints, keyUsage, pathLen, unknown critical extensions', () => {
    const pki = makeTestPki();
    const root = parsePemChain(pki.deviceRoot.pem, 'root')[0] as ParsedCert;
    const notCa = makeCert({ cn: 'Not a CA', issuer: pki.deviceRoot, ca: false, keyUsage: 0x04 });
    expect(failure(() => verifyChain(chainOf(makeCert({ cn: 'L', issuer: notCa }), notCa), root, at, 'device')).message).toMatch(/not a CA/);
    const noSign = makeCert({ cn: 'No keyCertSign', issuer: pki.deviceRoot, ca: true, keyUsage: 0x80 });
    // OpenSSL's issuer check (X509_check_issued, behind checkIssued) already refuses an issuer whose keyUsage lacks
    // keyCertSign, so our own keyUsage check on issuers is never reached (it stays as defence in depth).
    expect(failure(() => verifyChain(chainOf(makeCert({ cn: 'L', issuer: noSign }), noSign), root, at, 'device')).message).toBe(
      "certificate 'L' was not issued by 'No keyCertSign'",
    );
    const zero = makeCert({ cn: 'PathLen0', issuer: pki.deviceRoot, ca: true, pathLen: 0 });
    const mid = makeCert({ cn: 'Mid', issuer: zero, ca: true });
    expect(failure(() => verifyChain(chainOf(makeCert({ cn: 'L', issuer: mid }), mid, zero), root, at, 'device')).message).toMatch(/pathLenConstraint 0/);
  });

  it('rejects a tampered certificate signature and garbage PEM', () => {
    const der = Buffer.from(parsePemChain(H100_2023.chainPem, 'd')[1]?.der ?? []);
    der.writeUInt8(der.readUInt8(der.length - 5) ^ 0x01, der.length - 5);
    const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
    const chain = parsePemChain(H100_2023.chainPem, 'd');
    const tampered = [chain[0], ...parsePemChain(pem, 't'), ...chain.slice(2)] as ParsedCert[];
    expect(failure(() => verifyChain(tampered, anchors.deviceRoot, at, 'device')).code).toBe('DeviceChainInvalid');
    expect(failure(() => parsePemChain('hello', 'x')).code).toBe('CertificateMalformed');
    expect(failure(() => parsePemChain('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 'x')).code).toBe('CertificateMalformed');
    expect(failure(() => verifyChain([], anchors.deviceRoot, at, 'device')).code).toBe('DeviceChainInvalid');
  });
});

describe('FWID extension', () => {
  it('reads the leaf FWID that the 550.90.07 report carries', () => {
    const leaf = parsePemChain(H100_550.chainPem, 'd')[0] as ParsedCert;
    expect(leafFwids(leaf)?.map(toHex)).toEqual([H100_550.trusteeClaims.config.fwid]);
  });
});

describe('chain checks one by one (test PKI)', () => {
  const pki = makeTestPki();
  const root = parsePemChain(pki.deviceRoot.pem, 'root')[0] as ParsedCert;
  const leafUnder = (issuer: Parameters<typeof makeCert>[0]['issuer'], over: Partial<Parameters<typeof makeCert>[0]> = {}) => makeCert({ cn: 'Leaf', issuer, ...over });

  it('names the pinned root when the top of the chain was not issued by it; a same-named impostor fails on the signature', () => {
    const otherRoot = makeCert({ cn: 'Another Root', ca: true });
    const otherCa = makeCert({ cn: 'Another CA', issuer: otherRoot, ca: true });
    const err = failure(() => verifyChain(chainOf(leafUnder(otherCa), otherCa), root, at, 'device'));
    expect([err.code, err.message]).toEqual(['DeviceChainUntrusted', "certificate 'Another CA' was not issued by 'Test Device Identity CA' (the pinned root)"]);
    // below the root: no "(the pinned root)", and the invalid code
    const mixed = failure(() => verifyChain(chainOf(leafUnder(otherCa), pki.deviceProvisioner, pki.deviceIdentity), root, at, 'device'));
    expect([mixed.code, mixed.message]).toEqual(['DeviceChainInvalid', "certificate 'Leaf' was not issued by 'Test GH100 Provisioner ICA'"]);
    const impostor = makeTestPki(); // same names, other keys
    const sig = failure(() => verifyChain(chainOf(makeDeviceLeaf(impostor), impostor.deviceProvisioner, impostor.deviceIdentity), root, at, 'device'));
    expect([sig.code, sig.message]).toEqual(['DeviceChainUntrusted', "signature on certificate 'Test GH100 Identity' does not verify with the key of 'Test Device Identity CA'"]);
  });

  it('refuses a chain that is empty or holds only the root', () => {
    expect(failure(() => verifyChain([], root, at, 'device')).message).toBe('device certificate chain is empty');
    const onlyRoot = failure(() => verifyChain([root], root, at, 'rim'));
    expect([onlyRoot.code, onlyRoot.message]).toEqual(['RimChainInvalid', 'rim certificate chain holds only the root']);
  });

  it('refuses an unknown critical extension, and accepts it non-critical', () => {
    const ext = (critical: boolean) => new pkijs.Extension({ extnID: '1.3.6.1.4.1.99999.1', critical, extnValue: new asn1js.Null().toBER(false) });
    const critical = leafUnder(pki.deviceProvisioner, { extraExtensions: [ext(true)] });
    const err = failure(() => verifyChain(chainOf(critical, pki.deviceProvisioner, pki.deviceIdentity), root, at, 'device'));
    expect([err.code, err.message]).toEqual(['DeviceChainInvalid', "certificate 'Leaf' has an unsupported critical extension 1.3.6.1.4.1.99999.1"]);
    const plain = leafUnder(pki.deviceProvisioner, { extraExtensions: [ext(false)] });
    expect(() => verifyChain(chainOf(plain, pki.deviceProvisioner, pki.deviceIdentity), root, at, 'device')).not.toThrow();
  });

  it('leaf keyUsage must include digitalSignature when present; a missing keyUsage is allowed on leaf and CA', () => {
    const noSig = leafUnder(pki.deviceProvisioner, { keyUsage: 0x08 }); // keyAgreement only
    const err = failure(() => verifyChain(chainOf(noSig, pki.deviceProvisioner, pki.deviceIdentity), root, at, 'device'));
    expect([err.code, err.message]).toEqual(['DeviceChainInvalid', "leaf certificate 'Leaf' keyUsage lacks digitalSignature"]);
    const noKuLeaf = leafUnder(pki.deviceProvisioner, { keyUsage: null });
    expect(() => verifyChain(chainOf(noKuLeaf, pki.deviceProvisioner, pki.deviceIdentity), root, at, 'device')).not.toThrow();
    const noKuCa = makeCert({ cn: 'CA without keyUsage', issuer: pki.deviceRoot, ca: true, keyUsage: null });
    expect(() => verifyChain(chainOf(leafUnder(noKuCa), noKuCa), root, at, 'device')).not.toThrow();
  });

  it('is valid from notBefore through notAfter inclusive, and returns the intersection of the validity periods', () => {
    const from = new Date('2024-03-01T00:00:00Z');
    const to = new Date('2024-09-01T00:00:00Z');
    const ica = makeCert({ cn: 'Short ICA', issuer: pki.deviceRoot, ca: true, notBefore: from, notAfter: to });
    const leaf = leafUnder(ica, { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') });
    const chain = chainOf(leaf, ica);
    expect(verifyChain(chain, root, from, 'device')).toEqual({ notBefore: from, notAfter: to });
    expect(verifyChain(chain, root, to, 'device')).toEqual({ notBefore: from, notAfter: to });
    expect(failure(() => verifyChain(chain, root, new Date(from.getTime() - 1000), 'device')).code).toBe('DeviceCertExpired');
    expect(failure(() => verifyChain(chain, root, new Date(to.getTime() + 1000), 'device')).code).toBe('DeviceCertExpired');
  });

  it('PEM errors name the bundle', () => {
    expect(failure(() => parsePemChain('hello', 'device chain')).message).toBe('device chain contains no PEM certificate');
    expect(failure(() => parsePemChain(`${pki.deviceRoot.pem}junk\n${pki.deviceRoot.pem}`, 'device chain')).message).toBe('device chain has non-PEM content between certificates');
    const bad = failure(() => parsePemChain('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 'device chain'));
    expect([bad.code, bad.message]).toEqual(['CertificateMalformed', expect.stringMatching(/^device chain certificate 0 is not a valid X\.509 certificate \(/)]);
    const notBase64 = failure(() => parsePemChain('-----BEGIN CERTIFICATE-----\nAA!A\n-----END CERTIFICATE-----', 'device chain'));
    expect([notBase64.code, notBase64.message]).toEqual(['CertificateMalformed', 'device chain certificate 0 is not valid base64']);
  });
});
