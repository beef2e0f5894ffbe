import { describe, expect, it } from 'vitest';
import { H100_2023, kbsEntry } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { NvidiaError } from './errors.ts';
import { parseGpuEvidence } from './evidence.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NvidiaError);
    return (err as NvidiaError).code;
  }
  throw new Error('expected failure');
}

const entry = kbsEntry(H100_2023.report, H100_2023.chainPem, 'GPU-1');

describe('GPU evidence layouts', () => {
  it('reads the KBS additional-evidence layout', () => {
    const { layout, items } = parseGpuEvidence({ device_evidence_list: [entry] });
    expect(layout).toBe('kbs');
    expect(items[0]).toMatchObject({ position: 0, arch: 'HOPPER', uuid: 'GPU-1' });
    expect(Buffer.from(items[0]?.report ?? []).equals(Buffer.from(H100_2023.report))).toBe(true);
    expect(items[0]?.certChainPem).toBe(H100_2023.chainPem);
  });

  it('accepts hex evidence (as trustee does), lower-case arch and a missing uuid', () => {
    const { items } = parseGpuEvidence({
      device_evidence_list: [{ arch: 'hopper', evidence: Buffer.from(H100_2023.report).toString('hex'), certificate: entry.certificate }],
    });
    expect(items[0]).toMatchObject({ arch: 'HOPPER', uuid: 'unknown' });
    expect(items[0]?.report.length).toBe(H100_2023.report.length);
  });

  it('reads the NVIDIA SDK evidence list with nonce and versions', () => {
    const sdk = [{ ...entry, nonce: H100_2023.nonceHex, driver_version: '545.00', vbios_version: '96.00.5e.00.01', version: '1.0' }];
    const { layout, items } = parseGpuEvidence(sdk);
    expect(layout).toBe('sdk');
    expect(Buffer.from(items[0]?.nonce ?? []).toString('hex')).toBe(H100_2023.nonceHex);
    expect(items[0]).toMatchObject({ driverVersion: '545.00', vbiosVersion: '96.00.5e.00.01' });
  });

  it('rejects malformed shapes naming the field', () => {
    expect(code(() => parseGpuEvidence('x'))).toBe('EvidenceMalformed');
    expect(code(() => parseGpuEvidence({ device_evidence_list: {} }))).toBe('EvidenceMalformed');
    expect(code(() => parseGpuEvidence({ device_evidence_list: [] }))).toBe('EvidenceMalformed');
    expect(code(() => parseGpuEvidence({ device_evidence_list: [null] }))).toBe('EvidenceMalformed');
    expect(code(() => parseGpuEvidence({ device_evidence_list: [{ ...entry, evidence: 'not base64!' }] }))).toBe('EvidenceMalformed');
    expect(code(() => parseGpuEvidence({ device_evidence_list: [{ ...entry, certificate: Buffer.from('hello').toString('base64') }] }))).toBe(
      'EvidenceMalformed',
    );
    expect(code(() => parseGpuEvidence({ device_evidence_list: [{ ...entry, arch: 'LS10' }] }))).toBe('SpdmUnsupported');
    expect(code(() => parseGpuEvidence([{ ...entry, nonce: 'abcd' }]))).toBe('EvidenceMalformed');
    expect(code(() => parseGpuEvidence({ device_evidence_list: Array.from({ length: 65 }, () => entry) }))).toBe('EvidenceMalformed');
    expect(() => parseGpuEvidence({ device_evidence_list: [entry, { ...entry, evidence: 42 }] })).toThrow(
      'device_evidence_list[1].evidence must be a non-empty string',
    );
  });
});
