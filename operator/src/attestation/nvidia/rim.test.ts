import type { Element } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { H100_2023, failure } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { resignRim } from '../../../test/fixtures/nvidia/support/synthetic.ts';
import { makeTestPki } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { HASH_NS, verifyRim } from './rim.ts';
import { loadTrustAnchors } from './roots.ts';
import { parsePemChain, type ParsedCert } from './x509-chain.ts';

const { rimRoot } = loadTrustAnchors();
const at = H100_2023.pinnedTime;

describe('NVIDIA RIM verification (captured, NVIDIA-signed SWID tags)', () => {
  it('verifies the driver, VBIOS and PROD VBIOS RIMs to the CoRIM root at the pinned time', () => {
    const driver = verifyRim(H100_2023.driverRim, rimRoot, at, 'driver');
    expect(driver.rim.colloquialVersion).toBe('545.00');
    expect(driver.rim.measurements.filter((m) => m.active)).toHaveLength(21);
    expect(driver.chain.map((c) => c.name)).toEqual([
      'HCC RIM L4 Signer',
      'NVIDIA Reference Value L3 GH100 001',
      'NVIDIA Reference Value GH100 CA',
      'NVIDIA CoRIM signing Root CA',
    ]);
    expect(driver.window.notAfter.toISOString()).toBe('2025-06-26T06:10:12.000Z');
    for (const xml of [H100_2023.vbiosRim, H100_2023.negativeVbiosRim]) {
      const vbios = verifyRim(xml, rimRoot, at, 'vbios');
      expect(vbios.rim.colloquialVersion).toBe('96.00.5E.00.01');
      expect(vbios.rim.measurements.filter((m) => m.active)).toHaveLength(12);
    }
  });

  it('fails with an expiry reason once the RIM signing certificate has expired', () => {
    const err = failure(() => verifyRim(H100_2023.driverRim, rimRoot, H100_2023.afterRimExpiry, 'driver RIM'));
    expect(err.code).toBe('RimCertExpired');
    expect(err.message).toMatch(/HCC RIM L4 Signer' is not valid at 2025-07-01/);
  });

  it('rejects a changed golden value (digest) and a changed signature value', () => {
    const i = H100_2023.vbiosRim.indexOf('ns2:Hash0="') + 'ns2:Hash0="'.length + 5;
    const flipped = H100_2023.vbiosRim.slice(0, i) + (H100_2023.vbiosRim[i] === '0' ? '1' : '0') + H100_2023.vbiosRim.slice(i + 1);
    const digest = failure(() => verifyRim(flipped, rimRoot, at, 'vbios'));
    expect(digest.code).toBe('RimSignatureInvalid');
    expect(digest.message).toMatch(/digest/);
    const sigAt = H100_2023.vbiosRim.indexOf('<ds:SignatureValue>') + '<ds:SignatureValue>'.length + 3;
    const c = H100_2023.vbiosRim[sigAt] === 'A' ? 'B' : 'A';
    const badSig = H100_2023.vbiosRim.slice(0, sigAt) + c + H100_2023.vbiosRim.slice(sigAt + 1);
    const err = failure(() => verifyRim(badSig, rimRoot, at, 'vbios'));
    expect(err.code).toBe('RimSignatureInvalid');
    expect(err.message).toMatch(/does not verify/);
  });

  it('accepts a correctly signed RIM only under its own root (chain to another root is untrusted)', () => {
    const pki = makeTestPki();
    const xml = resignRim(H100_2023.driverRim, pki.rimSigner, [pki.rimSigner, pki.rimCa, pki.rimRoot]);
    expect(failure(() => verifyRim(xml, rimRoot, at, 'driver')).code).toBe('RimChainUntrusted');
    const testRoot = parsePemChain(pki.rimRoot.pem, 'root')[0] as ParsedCert;
    expect(verifyRim(xml, testRoot, at, 'driver').rim.colloquialVersion).toBe('545.00');
    const edited = resignRim(H100_2023.driverRim, pki.rimSigner, [pki.rimSigner, pki.rimCa], (root: Element) => {
      const r = root.getElementsByTagNameNS('http://standards.iso.org/iso/19770/-2/2015/schema.xsd', 'Resource').item(7) as Element;
      r.setAttributeNS(HASH_NS, 'ns2:Hash0', 'ab'.repeat(48));
    });
    const v = verifyRim(edited, testRoot, at, 'driver');
    expect(Buffer.from(v.rim.measurements[7]?.alternatives[0] ?? []).toString('hex')).toBe('ab'.repeat(48));
  });

  it('refuses signature wrapping, missing signatures and DTDs', () => {
    const sig = H100_2023.driverRim.slice(H100_2023.driverRim.indexOf('<ds:Signature'), H100_2023.driverRim.indexOf('</ds:Signature>') + 15);
    const twice = H100_2023.driverRim.replace('</SoftwareIdentity>', `${sig}</SoftwareIdentity>`);
    expect(failure(() => verifyRim(twice, rimRoot, at, 'driver')).message).toMatch(/exactly one ds:Signature/);
    const none = H100_2023.driverRim.replace(sig, '');
    expect(failure(() => verifyRim(none, rimRoot, at, 'driver')).code).toBe('RimSignatureInvalid');
    const dtd = `<!DOCTYPE x [<!ENTITY e "x">]>${H100_2023.driverRim}`;
    expect(failure(() => verifyRim(dtd, rimRoot, at, 'driver')).code).toBe('RimMalformed');
  });

  it('turns truncated or garbled XML into typed errors', () => {
    const codes = new Set<string>();
    for (let len = 0; len < H100_2023.driverRim.length; len += 97) {
      codes.add(failure(() => verifyRim(H100_2023.driverRim.slice(0, len), rimRoot, at, 'driver')).code);
    }
    expect([...codes].every((c) => c === 'RimMalformed' || c === 'RimSignatureInvalid')).toBe(true);
    expect(failure(() => verifyRim('<a><b></a>', rimRoot, at, 'x')).code).toBe('RimMalformed');
  });
});
