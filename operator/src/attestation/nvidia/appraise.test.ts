// One GPU's appraisal with a test PKI: the captured H100 reports re-signed by a test device key over a fresh
// nonce, NVIDIA's RIMs re-signed by a test RIM signer (offline RIM source, OCSP skipped unless asked for).
import { randomBytes } from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { H100_2023, H100_550 } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { resignReport, resignRim } from '../../../test/fixtures/nvidia/support/synthetic.ts';
import { makeDeviceLeaf, makeTestPki } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { appraiseGpu, type GpuAppraisal, type GpuAppraisalOptions } from './appraise.ts';
import type { GpuEvidenceItem } from './evidence.ts';
import { SWID_NS } from './rim.ts';
import { MapRimSource } from './rim-source.ts';
import { loadTrustAnchors } from './roots.ts';

const pki = makeTestPki();
const leaf = makeDeviceLeaf(pki);
const nonce = new Uint8Array(randomBytes(32));
const chainPem = [leaf, pki.deviceProvisioner, pki.deviceIdentity, pki.deviceRoot].map((c) => c.pem).join('');
const rimChain = [pki.rimSigner, pki.rimCa, pki.rimRoot];
const anchors = loadTrustAnchors({ deviceRootPem: pki.deviceRoot.pem, rimRootPem: pki.rimRoot.pem });
const withVersion = (version: string) => (root: Element) => {
  root.getElementsByTagNameNS(SWID_NS, 'Meta').item(0)!.setAttribute('colloquialVersion', version);
};
const rims = (edit: { driver?: (root: Element) => void; vbios?: (root: Element) => void } = {}) =>
  new MapRimSource(
    new Map([
      [H100_2023.driverRimId, resignRim(H100_2023.driverRim, pki.rimSigner, rimChain, edit.driver)],
      [H100_2023.vbiosRimId, resignRim(H100_2023.vbiosRim, pki.rimSigner, rimChain, edit.vbios)],
    ]),
  );
const goodRims = rims();
const item = (over: Partial<GpuEvidenceItem> = {}): GpuEvidenceItem => ({ position: 0, arch: 'HOPPER', uuid: 'GPU-0', report: resignReport(leaf, nonce), certChainPem: chainPem, ...over });
const options = (over: Partial<GpuAppraisalOptions> = {}): GpuAppraisalOptions => ({ anchors, rims: goodRims, ocspPolicy: 'Skip', expectedNonce: nonce, at: H100_2023.pinnedTime, ...over });
const outcome = (a: GpuAppraisal) => (a.ok ? `ok:${a.matchedMeasurements}` : `${a.code}: ${a.message}`);

describe('appraiseGpu (test PKI)', () => {
  it('passes the re-signed report against the re-signed RIMs', async () => {
    expect(outcome(await appraiseGpu(item(), options()))).toBe('ok:32');
  });

  it('refuses a RIM, validly signed, that is for another driver or VBIOS version than the report', async () => {
    expect(outcome(await appraiseGpu(item(), options({ rims: rims({ driver: withVersion('545.01') }) })))).toBe(
      'RimVersionMismatch: driver RIM is for version 545.01, the report says 545.00',
    );
    expect(outcome(await appraiseGpu(item(), options({ rims: rims({ vbios: withVersion('96.00.5E.00.02') }) })))).toBe(
      'RimVersionMismatch: VBIOS RIM is for version 96.00.5E.00.02, the report says 96.00.5E.00.01',
    );
    // the VBIOS version compares case-insensitively, as NVIDIA writes it either way
    expect(outcome(await appraiseGpu(item(), options({ rims: rims({ vbios: withVersion('96.00.5e.00.01') }) })))).toBe('ok:32');
  });

  it('refuses to appraise without any expected nonce', async () => {
    const { expectedNonce: _, ...noNonce } = options();
    expect(outcome(await appraiseGpu(item(), noNonce))).toBe('NonceMismatch: no expected nonce was given, so the report freshness cannot be checked');
    // the SDK entry's own nonce is the fallback
    expect(outcome(await appraiseGpu(item({ nonce }), noNonce))).toBe('ok:32');
  });

  it('refuses a report whose FWID the leaf certificate does not carry', async () => {
    // The 550.90.07 report carries an FWID; signed by a test leaf without the DICE FWID extension.
    const a = await appraiseGpu(item({ report: resignReport(leaf, nonce, H100_550.report) }), options());
    expect(outcome(a)).toBe('FwidMismatch: report carries an FWID but the leaf certificate has no DICE FWID extension');
  });

  it('allowedVbiosVersions passes when any entry matches, case-insensitively', async () => {
    expect(outcome(await appraiseGpu(item(), options({ allowedVbiosVersions: ['96.00.5e.00.01', '96.00.AA.00.01'] })))).toBe('ok:32');
    expect(outcome(await appraiseGpu(item(), options({ allowedVbiosVersions: ['96.00.AA.00.01'] })))).toMatch(/^VbiosVersionNotAllowed: /);
  });
});
