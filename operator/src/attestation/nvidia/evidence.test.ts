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

describe('GPU evidence: each refusal names its field and bound', () => {
  const msg = (value: unknown, code = 'EvidenceMalformed'): string => {
    try {
      parseGpuEvidence(value);
    } catch (err) {
      expect(err).toBeInstanceOf(NvidiaError);
      expect((err as NvidiaError).code).toBe(code);
      return (err as NvidiaError).message;
    }
    throw new Error('expected failure');
  };
  const kbs = (e: unknown) => ({ device_evidence_list: [e] });

  it('names the outer shape that is wrong', () => {
    const shape = 'GPU evidence must be {"device_evidence_list":[...]} (KBS) or an array of SDK evidence entries';
    expect(msg(null)).toBe(shape);
    expect(msg({ devices: [] })).toBe(shape);
    expect(msg({ device_evidence_list: 'x' })).toBe('device_evidence_list must be an array');
    expect(msg([])).toBe('GPU evidence lists no devices');
    expect(msg(Array.from({ length: 65 }, () => entry))).toBe('GPU evidence lists 65 devices (at most 64)');
    expect(parseGpuEvidence(Array.from({ length: 64 }, () => entry)).items).toHaveLength(64);
  });

  it('names the entry and the field, per layout', () => {
    expect(msg(kbs([entry]))).toBe('device_evidence_list[0] must be an object');
    expect(msg(['x'])).toBe('evidence[0] must be an object');
    expect(msg([entry, { ...entry, arch: '' }])).toBe('evidence[1].arch must be a non-empty string');
    expect(msg(kbs({ ...entry, uuid: '' }))).toBe('device_evidence_list[0].uuid must be a non-empty string');
    expect(msg(kbs({ ...entry, uuid: 7 }))).toBe('device_evidence_list[0].uuid must be a non-empty string');
    expect(msg(kbs({ ...entry, certificate: undefined }))).toBe('device_evidence_list[0].certificate must be a non-empty string');
    expect(msg(kbs({ ...entry, evidence: 'a'.repeat((1 << 20) + 1) }))).toBe('device_evidence_list[0].evidence is larger than 1048576 characters');
    // Exactly the cap is read (as hex here).
    expect(parseGpuEvidence(kbs({ ...entry, evidence: 'a'.repeat(1 << 20) })).items[0]?.report.length).toBe(1 << 19);
    expect(msg(kbs({ ...entry, arch: 'x'.repeat(40) }), 'SpdmUnsupported')).toBe(
      `device_evidence_list[0].arch '${'x'.repeat(32)}' is not a supported GPU architecture (HOPPER, BLACKWELL)`,
    );
    expect(msg(kbs({ ...entry, certificate: '*' }))).toBe('device_evidence_list[0].certificate is not valid base64');
    expect(msg(kbs({ ...entry, evidence: 'not base64!' }))).toBe('device_evidence_list[0].evidence is not valid base64');
    expect(msg(kbs({ ...entry, certificate: Buffer.from('-----BEGIN X-----').toString('base64') }))).toBe(
      'device_evidence_list[0].certificate does not decode to a PEM certificate chain',
    );
  });

  it('reads Blackwell, a PEM chain given as text, and the SDK fields only in the SDK layout', () => {
    const item = parseGpuEvidence(kbs({ ...entry, arch: 'Blackwell', certificate: `\n ${H100_2023.chainPem}` })).items[0];
    expect(item?.arch).toBe('BLACKWELL');
    expect(item?.certChainPem).toBe(`\n ${H100_2023.chainPem}`);
    const sdkFields = { nonce: H100_2023.nonceHex, driver_version: '545.00', vbios_version: '96.00.5E.00.01' };
    const fromKbs = parseGpuEvidence(kbs({ ...entry, ...sdkFields })).items[0];
    expect(fromKbs).not.toHaveProperty('nonce');
    expect(fromKbs).not.toHaveProperty('driverVersion');
    expect(fromKbs).not.toHaveProperty('vbiosVersion');
    const bare = parseGpuEvidence([entry]).items[0];
    expect(bare && Object.keys(bare).sort()).toEqual(['arch', 'certChainPem', 'position', 'report', 'uuid']);
    expect(parseGpuEvidence([entry, entry]).items.map((i) => i.position)).toEqual([0, 1]);
    expect(msg([{ ...entry, nonce: 'abcd' }])).toBe('evidence[0].nonce is 2 bytes, expected 32');
    expect(msg([{ ...entry, nonce: 'xyz' }])).toBe('evidence[0].nonce is not valid hex (odd length or non-hex characters)');
    expect(msg([{ ...entry, driver_version: '' }])).toBe('evidence[0].driver_version must be a non-empty string');
    expect(msg([{ ...entry, vbios_version: 1 }])).toBe('evidence[0].vbios_version must be a non-empty string');
  });
});
