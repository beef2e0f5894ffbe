import { describe, expect, it } from 'vitest';
import { H100_2023 } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { NvidiaError, asNvidiaError } from './errors.ts';
import { decodeOpaque } from './opaque.ts';
import { driverRimId, isSafeRimId, vbiosRimId } from './rim-id.ts';
import { loadTrustAnchors } from './roots.ts';
import { parseSpdmEvidence } from './spdm.ts';

describe('RIM ids, trust anchors and error types', () => {
  it('names driver RIMs per architecture and VBIOS RIMs from the report', () => {
    expect(driverRimId('HOPPER', '545.00')).toBe('NV_GPU_DRIVER_GH100_545.00');
    expect(driverRimId('BLACKWELL', '570.10')).toBe('NV_GPU_CC_DRIVER_GB100_570.10');
    const info = decodeOpaque(parseSpdmEvidence(H100_2023.report).response.opaque);
    expect(vbiosRimId(info)).toBe(H100_2023.vbiosRimId);
    expect(vbiosRimId({ ...info, vbiosVersion: '96.00.5e.00.01' })).toBe(H100_2023.vbiosRimId);
  });

  it('accepts only ids that are safe as a file name and a URL path segment', () => {
    expect(isSafeRimId('NV_GPU_DRIVER_GH100_545.00')).toBe(true);
    expect(isSafeRimId('a'.repeat(128))).toBe(true);
    for (const bad of ['', 'a'.repeat(129), 'a/b', '..', 'a..b', 'a b', 'a%2F']) expect(isSafeRimId(bad)).toBe(false);
  });

  it('loads the pinned roots, and refuses a root PEM that holds more than one certificate', () => {
    const pinned = loadTrustAnchors();
    expect([pinned.deviceRoot.name, pinned.rimRoot.name]).toEqual(['NVIDIA Device Identity CA', 'NVIDIA CoRIM signing Root CA']);
    const two = H100_2023.chainPem;
    expect(() => loadTrustAnchors({ rimRootPem: two })).toThrow('RIM root must hold exactly one certificate');
    expect(() => loadTrustAnchors({ deviceRootPem: two })).toThrow('device root must hold exactly one certificate');
  });

  it('NvidiaError carries its name, code and detail; asNvidiaError keeps NvidiaErrors and wraps the rest', () => {
    const e = new NvidiaError('RimMismatch', 'x', { indices: [1] });
    expect(e).toMatchObject({ name: 'NvidiaError', code: 'RimMismatch', message: 'x', detail: { indices: [1] } });
    expect(asNvidiaError(e, 'EvidenceMalformed', 'ctx')).toBe(e);
    expect(asNvidiaError(new Error('boom'), 'EvidenceMalformed', 'ctx')).toMatchObject({ code: 'EvidenceMalformed', message: 'ctx: boom' });
    expect(asNvidiaError('str', 'SpdmMalformed', 'ctx')).toMatchObject({ code: 'SpdmMalformed', message: 'ctx: str' });
  });
});
