import type { Element } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { H100_2023, failure } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { resignRim } from '../../../test/fixtures/nvidia/support/synthetic.ts';
import { makeTestPki } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { HASH_NS, SWID_NS, readRim, verifyRim } from './rim.ts';
import { loadTrustAnchors } from './roots.ts';
import { parseXml } from './xmldsig.ts';
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

// readRim reads an already-verified document, so its checks are exercised here on small unsigned documents.
const H = 'ab'.repeat(48);
const resource = (attrs: string): string => `<Resource type="Measurement" ${attrs}/>`;
const good = (index: number, extra = ''): string => resource(`index="${index}" active="True" alternatives="1" size="48" h:Hash0="${H}" ${extra}`);
function swid(payload: string, opts: { meta?: string; root?: string; tagId?: string } = {}): Element {
  const meta = opts.meta ?? '<Meta colloquialVersion="545.00"/>';
  const tag = opts.tagId === undefined ? '' : ` tagId="${opts.tagId}"`;
  const root = opts.root ?? 'SoftwareIdentity';
  return parseXml(`<${root} xmlns="${SWID_NS}" xmlns:h="${HASH_NS}"${tag}>${meta}<Payload>${payload}</Payload></${root}>`).documentElement as Element;
}
const refusal = (el: Element): string => {
  const err = failure(() => readRim(el));
  expect(err.code).toBe('RimMalformed');
  return err.message;
};

describe('RIM golden-value reader: each refusal names the element and attribute', () => {
  it('reads index, active flag, size, every alternative and the tag id', () => {
    const rim = readRim(swid(`${good(3)}${resource(`index="4" active="False" alternatives="2" size="32" h:Hash0="00" h:Hash1="0102"`)}`, { tagId: 'T' }));
    expect(rim.tagId).toBe('T');
    expect(rim.colloquialVersion).toBe('545.00');
    expect(rim.measurements.map((m) => ({ ...m, alternatives: m.alternatives.map((a) => Buffer.from(a).toString('hex')) }))).toEqual([
      { index: 3, active: true, size: 48, alternatives: [H] },
      { index: 4, active: false, size: 32, alternatives: ['00', '0102'] },
    ]);
    expect(readRim(swid(good(0))).tagId).toBe('');
    // Resources of another type, and elements outside the SWID namespace, are not golden values.
    const other = readRim(swid(`<Resource type="Other" index="x"/><m:Resource xmlns:m="u:m" type="Measurement" index="y"/>${good(1)}`));
    expect(other.measurements.map((m) => m.index)).toEqual([1]);
    expect(readRim(swid('')).measurements).toEqual([]);
  });

  it('refuses a root that is not swid:SoftwareIdentity, and Meta or Payload not exactly once', () => {
    expect(refusal(swid(good(0), { root: 'Other' }))).toBe('RIM: root element is not swid:SoftwareIdentity');
    const foreign = parseXml(`<SoftwareIdentity xmlns="u:other"><Meta colloquialVersion="1"/><Payload/></SoftwareIdentity>`).documentElement as Element;
    expect(refusal(foreign)).toBe('RIM: root element is not swid:SoftwareIdentity');
    expect(refusal(swid(good(0), { meta: '' }))).toBe('RIM: expected one Meta@colloquialVersion, found 0');
    expect(refusal(swid(good(0), { meta: '<Meta colloquialVersion=""/>' }))).toBe('RIM: expected one Meta@colloquialVersion, found 0');
    expect(refusal(swid(good(0), { meta: '<Meta colloquialVersion="1"/><Meta colloquialVersion="2"/>' }))).toBe(
      'RIM: expected one Meta@colloquialVersion, found 2',
    );
    // A Meta without the version, next to the one with it, is fine (real RIMs carry one Meta).
    expect(readRim(swid(good(0), { meta: '<Meta product="x"/><Meta colloquialVersion="2"/>' })).colloquialVersion).toBe('2');
    const m = `<Meta xmlns="u:m" colloquialVersion="9"/><Meta colloquialVersion="2"/>`;
    expect(readRim(swid(good(0), { meta: m })).colloquialVersion).toBe('2');
    expect(refusal(swid(good(0), { meta: '<Meta colloquialVersion="1"/><Payload/>' }))).toBe('RIM: expected one Payload, found 2');
    const noPayload = parseXml(`<SoftwareIdentity xmlns="${SWID_NS}"><Meta colloquialVersion="1"/></SoftwareIdentity>`).documentElement as Element;
    expect(refusal(noPayload)).toBe('RIM: expected one Payload, found 0');
  });

  it('refuses bad index, active, size and alternatives attributes', () => {
    const at = (attrs: string): string => refusal(swid(resource(attrs)));
    const rest = `active="True" alternatives="1" size="48" h:Hash0="${H}"`;
    expect(at(rest)).toBe("RIM: Resource attribute 'index' is not a non-negative integer");
    for (const bad of ['-1', '1a', 'a1', '1234567', '', ' 1']) {
      expect(at(`index="${bad}" ${rest}`)).toBe("RIM: Resource attribute 'index' is not a non-negative integer");
    }
    expect(readRim(swid(good(999999))).measurements[0]?.index).toBe(999999);
    expect(at(`index="2" active="true" alternatives="1" size="48" h:Hash0="${H}"`)).toBe("RIM: Resource index 2 'active' must be True or False");
    expect(at(`index="2" alternatives="1" size="48" h:Hash0="${H}"`)).toBe("RIM: Resource index 2 'active' must be True or False");
    expect(at(`index="2" active="True" alternatives="1" size="4.8" h:Hash0="${H}"`)).toBe("RIM: Resource index 2 attribute 'size' is not a non-negative integer");
    expect(at(`index="2" active="True" size="48" h:Hash0="${H}"`)).toBe("RIM: Resource index 2 attribute 'alternatives' is not a non-negative integer");
    expect(at(`index="2" active="True" alternatives="0" size="48"`)).toBe('RIM: Resource index 2 has 0 alternatives (1..16 allowed)');
    expect(at(`index="2" active="True" alternatives="17" size="48"`)).toBe('RIM: Resource index 2 has 17 alternatives (1..16 allowed)');
    const sixteen = Array.from({ length: 16 }, (_, i) => `h:Hash${i}="0${i.toString(16)}"`).join(' ');
    expect(readRim(swid(resource(`index="2" active="True" alternatives="16" size="1" ${sixteen}`))).measurements[0]?.alternatives).toHaveLength(16);
  });

  it('refuses a missing, empty or non-hex Hash, and a Hash outside the SHA-384 namespace', () => {
    const at = (hashes: string, n = 2): string => refusal(swid(resource(`index="5" active="True" alternatives="${n}" size="48" ${hashes}`)));
    expect(at(`h:Hash0="${H}"`)).toBe('RIM: Resource index 5 lacks Hash1');
    expect(at(`h:Hash0="${H}" h:Hash1=""`)).toBe('RIM: Resource index 5 lacks Hash1');
    expect(at(`h:Hash0="${H}" Hash1="${H}"`)).toBe('RIM: Resource index 5 lacks Hash1');
    expect(at(`h:Hash0="xyz"`, 1)).toBe('Resource index 5 Hash0 is not valid hex (odd length or non-hex characters)');
  });

  it('refuses a Resource index that appears twice', () => {
    expect(refusal(swid(`${good(7)}${good(8)}${good(7)}`))).toBe('RIM: Resource index 7 appears twice');
  });

  it('prefixes every verification failure with the RIM label and keeps its code and detail', () => {
    const notXml = failure(() => verifyRim('<a>', rimRoot, at, 'driver RIM 545.00'));
    expect(notXml.code).toBe('RimMalformed');
    expect(notXml.message).toMatch(/^driver RIM 545\.00: RIM XML: not well-formed/);
    const noVersion = H100_2023.driverRim.replace('colloquialVersion="545.00"', 'colloquialVersion=""');
    const sig = failure(() => verifyRim(noVersion, rimRoot, at, 'driver RIM'));
    expect(sig.code).toBe('RimSignatureInvalid');
    expect(sig.message).toBe('driver RIM: RIM signature: the document digest does not match DigestValue (content was changed)');
    const pki = makeTestPki();
    const testRoot = parsePemChain(pki.rimRoot.pem, 'root')[0] as ParsedCert;
    const unsignedShape = resignRim(H100_2023.driverRim, pki.rimSigner, [pki.rimSigner, pki.rimCa], (root: Element) => {
      const meta = root.getElementsByTagNameNS(SWID_NS, 'Meta').item(0) as Element;
      meta.removeAttribute('colloquialVersion');
    });
    const shape = failure(() => verifyRim(unsignedShape, testRoot, at, 'driver RIM'));
    expect(shape.code).toBe('RimMalformed');
    expect(shape.message).toBe('driver RIM: RIM: expected one Meta@colloquialVersion, found 0');
  });
});
