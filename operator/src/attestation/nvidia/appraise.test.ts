// One GPU's appraisal with a test PKI: the captured H100 reports re-signed by a test device key over a fresh
// nonce, NVIDIA's RIMs re-signed by a test RIM signer (offline RIM source, OCSP skipped unless asked for).
import { randomBytes } from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { H100_2023, H100_550 } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { resignReport, resignRim } from '../../../test/fixtures/nvidia/support/synthetic.ts';
import { startOcspResponder } from '../../../test/fixtures/nvidia/support/servers.ts';
import { makeCert, makeDeviceLeaf, makeOcspResponse, makeTestPki, requestedSerial, serialHex } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { appraiseGpu, appraiseGpus, type GpuAppraisal, type GpuAppraisalOptions } from './appraise.ts';
import { HASH_NS } from './rim.ts';
import { HttpOcspClient } from './ocsp-client.ts';
import type { GpuEvidenceItem } from './evidence.ts';
import { SWID_NS } from './rim.ts';
import { MapRimSource, type RimSource } from './rim-source.ts';
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

describe('appraiseGpu: RIM lookup, golden values, OCSP targets and duplicate GPUs (test PKI)', () => {
  it('names a missing RIM by kind and id, the driver RIM first', async () => {
    const onlyVbios = new MapRimSource(new Map([[H100_2023.vbiosRimId, resignRim(H100_2023.vbiosRim, pki.rimSigner, rimChain)]]));
    const a = await appraiseGpu(item(), options({ rims: onlyVbios }));
    expect(outcome(a)).toBe(`RimMissing: no driver RIM ${H100_2023.driverRimId} is available from the configured RIM source`);
    // Facts read before the failure stay in the result.
    expect(a).toMatchObject({ driverVersion: '545.00', vbiosVersion: '96.00.5E.00.01', driverRimId: H100_2023.driverRimId, vbiosRimId: H100_2023.vbiosRimId });
    const none = await appraiseGpu(item(), options({ rims: new MapRimSource(new Map()) }));
    expect(outcome(none)).toMatch(/^RimMissing: no driver RIM /);
    const onlyDriver = new MapRimSource(new Map([[H100_2023.driverRimId, resignRim(H100_2023.driverRim, pki.rimSigner, rimChain)]]));
    expect(outcome(await appraiseGpu(item(), options({ rims: onlyDriver })))).toBe(
      `RimMissing: no VBIOS RIM ${H100_2023.vbiosRimId} is available from the configured RIM source`,
    );
  });

  it('names the mismatching golden values and returns their indices as detail', async () => {
    const edit = (root: Element) => {
      const r = [...Array.from({ length: 64 }, (_, i) => root.getElementsByTagNameNS(SWID_NS, 'Resource').item(i) as Element)].find((e) => e.getAttribute('index') === '7');
      r?.setAttributeNS(HASH_NS, 'ns2:Hash0', 'ab'.repeat(48));
    };
    const a = await appraiseGpu(item(), options({ rims: rims({ driver: edit }) }));
    expect(a).toMatchObject({ ok: false, code: 'RimMismatch', message: 'runtime measurements differ from the RIM golden values at RIM indices driver 7 (value)', detail: { indices: [7] } });
  });

  it('names the driver version a policy does not allow', async () => {
    expect(outcome(await appraiseGpu(item(), options({ allowedDriverVersions: ['550.90.07'] })))).toBe(
      "DriverVersionNotAllowed: driver 545.00 is not in the policy's allowedDriverVersions",
    );
    expect(outcome(await appraiseGpu(item(), options({ allowedDriverVersions: ['550.90.07', '545.00'] })))).toBe('ok:32');
  });

  it('asks OCSP about the device CAs (not the leaf or root) and each RIM signing certificate once, with or without the root in the chain', async () => {
    const asked: string[] = [];
    const responderFor = new Map([
      [serialHex(pki.rimSigner), pki.rimResponder],
      [serialHex(pki.rimCa), pki.rimResponder],
    ]);
    const server = await startOcspResponder((req) => {
      const serial = requestedSerial(req);
      asked.push(serial);
      return makeOcspResponse({
        requestDer: req,
        responder: responderFor.get(serial) ?? pki.deviceResponder,
        statusOf: () => 'good',
        thisUpdate: new Date('2024-05-31T00:00:00Z'),
        nextUpdate: new Date('2024-06-08T00:00:00Z'),
      });
    });
    try {
      const names = new Map([pki.deviceProvisioner, pki.deviceIdentity, pki.rimSigner, pki.rimCa, leaf, pki.deviceRoot, pki.rimRoot].map((c) => [serialHex(c), c.name]));
      const expected = ['Test GH100 Provisioner ICA', 'Test GH100 Identity', 'Test RIM Signer', 'Test Reference Value CA'].sort();
      for (const chain of [chainPem, [leaf, pki.deviceProvisioner, pki.deviceIdentity].map((c) => c.pem).join('')]) {
        asked.length = 0;
        const a = await appraiseGpu(item({ certChainPem: chain }), options({ ocsp: new HttpOcspClient({ url: server.url }), ocspPolicy: 'Require' }));
        expect(a).toMatchObject({ ok: true, ocsp: 'good', warnings: [] });
        expect(asked.map((s) => names.get(s)).sort()).toEqual(expected);
      }
      // The policy URL is used over the client's default.
      asked.length = 0;
      const viaPolicy = await appraiseGpu(item(), options({ ocsp: new HttpOcspClient({ url: 'http://127.0.0.1:1/' }), ocspPolicy: 'Require', ocspUrl: server.url }));
      expect(viaPolicy).toMatchObject({ ok: true, ocsp: 'good' });
      expect(asked).toHaveLength(4);
    } finally {
      await server.close();
    }
  });

  it('fails a GPU that repeats another GPU’s device certificate, keeping failures as they are', async () => {
    const second = item({ position: 1, uuid: 'GPU-1' });
    const r = await appraiseGpus([item(), second], options());
    expect(r.ok).toBe(false);
    expect(r.gpus.map(outcome)).toEqual(['ok:32', 'EvidenceMalformed: GPU 1 repeats the device certificate of GPU 0; each GPU must attest itself']);
    const otherLeaf = makeDeviceLeaf(pki, 'Other LF');
    const otherChain = [otherLeaf, pki.deviceProvisioner, pki.deviceIdentity, pki.deviceRoot].map((c) => c.pem).join('');
    const distinct = await appraiseGpus([item(), item({ position: 1, report: resignReport(otherLeaf, nonce), certChainPem: otherChain })], options());
    expect(distinct.ok).toBe(true);
    const bothBad = await appraiseGpus([item(), second], options({ expectedNonce: new Uint8Array(32) }));
    expect(bothBad.gpus.map((g) => (g.ok ? 'ok' : g.code))).toEqual(['NonceMismatch', 'NonceMismatch']);
  });
});

describe('appraiseGpu: labels, expiry of differently signed RIMs, and failures outside the checks (test PKI)', () => {
  it('labels a RIM failure with its kind and id, and names a VBIOS the policy does not allow', async () => {
    const broken = new MapRimSource(
      new Map([
        [H100_2023.driverRimId, resignRim(H100_2023.driverRim, pki.rimSigner, rimChain)],
        [H100_2023.vbiosRimId, resignRim(H100_2023.vbiosRim, pki.rimSigner, rimChain).replace('<ds:DigestValue>', '<ds:DigestValue>AAAA')],
      ]),
    );
    expect(outcome(await appraiseGpu(item(), options({ rims: broken })))).toMatch(new RegExp(`^RimSignatureInvalid: VBIOS RIM ${H100_2023.vbiosRimId}: RIM signature: `));
    expect(outcome(await appraiseGpu(item(), options({ allowedVbiosVersions: ['96.00.AA.00.01'] })))).toBe(
      "VbiosVersionNotAllowed: VBIOS 96.00.5E.00.01 is not in the policy's allowedVbiosVersions",
    );
  });

  it('expires with the earlier RIM chain, and asks OCSP about each RIM signer when the two RIMs have different ones', async () => {
    const driverSigner = makeCert({ cn: 'Test Driver RIM Signer', issuer: pki.rimCa, ca: false, notAfter: new Date('2030-01-01T00:00:00Z') });
    const twoSigners = new MapRimSource(
      new Map([
        [H100_2023.driverRimId, resignRim(H100_2023.driverRim, driverSigner, [driverSigner, pki.rimCa, pki.rimRoot])],
        [H100_2023.vbiosRimId, resignRim(H100_2023.vbiosRim, pki.rimSigner, rimChain)],
      ]),
    );
    const a = await appraiseGpu(item(), options({ rims: twoSigners }));
    expect(a).toMatchObject({ ok: true, rimExpiresAt: new Date('2030-01-01T00:00:00Z') });
    // The other way round: the VBIOS RIM's chain expires first.
    const swapped = new MapRimSource(
      new Map([
        [H100_2023.driverRimId, resignRim(H100_2023.driverRim, pki.rimSigner, rimChain)],
        [H100_2023.vbiosRimId, resignRim(H100_2023.vbiosRim, driverSigner, [driverSigner, pki.rimCa, pki.rimRoot])],
      ]),
    );
    expect(await appraiseGpu(item(), options({ rims: swapped }))).toMatchObject({ ok: true, rimExpiresAt: new Date('2030-01-01T00:00:00Z') });

    const asked: string[] = [];
    const rimSide = new Set([serialHex(pki.rimSigner), serialHex(pki.rimCa), serialHex(driverSigner)]);
    const server = await startOcspResponder((req) => {
      const serial = requestedSerial(req);
      asked.push(serial);
      return makeOcspResponse({
        requestDer: req,
        responder: rimSide.has(serial) ? pki.rimResponder : pki.deviceResponder,
        statusOf: () => 'good',
        thisUpdate: new Date('2024-05-31T00:00:00Z'),
        nextUpdate: new Date('2024-06-08T00:00:00Z'),
      });
    });
    try {
      const ok = await appraiseGpu(item(), options({ rims: twoSigners, ocsp: new HttpOcspClient({ url: server.url }), ocspPolicy: 'Require' }));
      expect(ok).toMatchObject({ ok: true, ocsp: 'good' });
      expect(asked).toContain(serialHex(driverSigner));
      expect(asked).toContain(serialHex(pki.rimSigner));
      expect(asked).toHaveLength(5);
    } finally {
      await server.close();
    }
  });

  it('turns an error that is not an NvidiaError into EvidenceMalformed, labelled with the GPU', async () => {
    const failing: RimSource = { getRim: () => Promise.reject(new Error('RIM directory unreadable')) };
    expect(outcome(await appraiseGpu(item({ position: 3 }), options({ rims: failing })))).toBe('EvidenceMalformed: GPU 3: RIM directory unreadable');
  });

  it('reports a GPU whose chain holds no PEM certificate as failed, without breaking the duplicate check', async () => {
    const r = await appraiseGpus([item({ certChainPem: 'no certificate here' }), item({ position: 1 })], options());
    expect(r.gpus.map(outcome)).toEqual(['CertificateMalformed: device certificate chain contains no PEM certificate', 'ok:32']);
  });
});
