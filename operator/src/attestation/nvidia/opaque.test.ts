import { describe, expect, it } from 'vitest';
import { H100_2023, H100_550, failure } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { decodeOpaque, formatVbiosVersion, OPAQUE } from './opaque.ts';
import { parseSpdmEvidence, type OpaqueField } from './spdm.ts';

// The opaque fields of the captured reports, edited one at a time.
const fields2023 = parseSpdmEvidence(H100_2023.report).response.opaque;
const fields550 = parseSpdmEvidence(H100_550.report).response.opaque;
const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const withField = (fields: OpaqueField[], type: number, data: Uint8Array | undefined): OpaqueField[] => [
  ...fields.filter((f) => f.type !== type),
  ...(data ? [{ type, data }] : []),
];
const refusal = (fields: OpaqueField[]): string => {
  const err = failure(() => decodeOpaque(fields));
  expect(err.code).toBe('OpaqueMalformed');
  return err.message;
};

describe('NVIDIA opaque data', () => {
  it('decodes versions, identifiers, FWID, NVDEC0 status and the raw map of the captured reports', () => {
    const a = decodeOpaque(fields2023);
    expect(a).toMatchObject({ driverVersion: '545.00', vbiosVersion: '96.00.5E.00.01', chipSku: '882', project: '1010', projectSku: '0200', nvdec0Status: 0x55 });
    expect(a.fwid).toBeUndefined();
    expect(Object.keys(a.raw).sort()).toEqual(fields2023.map((f) => String(f.type)).sort());
    expect(a.raw[String(OPAQUE.DRIVER_VERSION)]).toBe('3534352e303000');
    const b = decodeOpaque(fields550);
    expect(b).toMatchObject({ driverVersion: '550.90.07', vbiosVersion: '96.00.9F.00.01', chipSku: '882' });
    expect(Buffer.from(b.fwid ?? []).toString('hex')).toBe(H100_550.trusteeClaims.config.fwid);
  });

  it('stops text at the first NUL and reads a value without one whole', () => {
    expect(decodeOpaque(withField(fields2023, OPAQUE.DRIVER_VERSION, ascii('560.1\0junk'))).driverVersion).toBe('560.1');
    expect(decodeOpaque(withField(fields2023, OPAQUE.DRIVER_VERSION, ascii('560.35.03'))).driverVersion).toBe('560.35.03');
    expect(decodeOpaque(withField(fields2023, OPAQUE.CHIP_SKU, ascii('\0'))).chipSku).toBe('');
  });

  it('names a missing required field and its type', () => {
    const cases: [number, string][] = [
      [OPAQUE.DRIVER_VERSION, 'DRIVER_VERSION'],
      [OPAQUE.VBIOS_VERSION, 'VBIOS_VERSION'],
      [OPAQUE.CHIP_SKU, 'CHIP_SKU'],
      [OPAQUE.PROJECT, 'PROJECT'],
      [OPAQUE.PROJECT_SKU, 'PROJECT_SKU'],
    ];
    for (const [type, name] of cases) {
      expect(refusal(withField(fields2023, type, undefined))).toBe(`opaque field ${name} (type ${type}) is missing`);
    }
  });

  it('refuses a driver version or identifier that is not the expected text', () => {
    const driver = (s: string) => refusal(withField(fields2023, OPAQUE.DRIVER_VERSION, ascii(s)));
    for (const bad of ['', '5 45', '545/00', '1'.repeat(33), '../x']) expect(driver(bad)).toBe('opaque DRIVER_VERSION is not a printable version string');
    expect(decodeOpaque(withField(fields2023, OPAQUE.DRIVER_VERSION, ascii('A.'.repeat(16)))).driverVersion).toHaveLength(32);
    for (const [type, name] of [
      [OPAQUE.CHIP_SKU, 'CHIP_SKU'],
      [OPAQUE.PROJECT, 'PROJECT'],
      [OPAQUE.PROJECT_SKU, 'PROJECT_SKU'],
    ] as const) {
      for (const bad of ['88_2', 'x'.repeat(17), '1.0', 'a b']) {
        expect(refusal(withField(fields2023, type, ascii(bad)))).toBe(`opaque ${name} is not alphanumeric`);
      }
      expect(decodeOpaque(withField(fields2023, type, ascii('aZ09'.repeat(4))))).toBeDefined();
    }
  });

  it('needs a 48-byte FWID and an 8-byte VBIOS version; reads NVDEC0 only when present', () => {
    expect(refusal(withField(fields550, OPAQUE.FWID, new Uint8Array(47)))).toBe('opaque FWID is 47 bytes, expected 48');
    expect(refusal(withField(fields550, OPAQUE.FWID, new Uint8Array(0)))).toBe('opaque FWID is 0 bytes, expected 48');
    expect(refusal(withField(fields2023, OPAQUE.VBIOS_VERSION, new Uint8Array(9)))).toBe('VBIOS_VERSION is 9 bytes, expected 8');
    expect(decodeOpaque(withField(fields2023, OPAQUE.NVDEC0_STATUS, undefined)).nvdec0Status).toBeUndefined();
    expect(decodeOpaque(withField(fields2023, OPAQUE.NVDEC0_STATUS, new Uint8Array(0))).nvdec0Status).toBeUndefined();
    expect(decodeOpaque(withField(fields2023, OPAQUE.NVDEC0_STATUS, Uint8Array.from([0xaa, 0x55]))).nvdec0Status).toBe(0xaa);
  });

  it('formats VBIOS versions as nvtrust does: low word reversed, OEM byte last, upper case', () => {
    expect(formatVbiosVersion(Uint8Array.from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]))).toBe('04.03.02.01.05');
    expect(formatVbiosVersion(Uint8Array.from([0x00, 0x9f, 0x00, 0x96, 0xab, 0, 0, 0]))).toBe('96.00.9F.00.AB');
  });
});
