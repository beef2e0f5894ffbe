import { describe, expect, it } from 'vitest';
import { H100_2023, H100_550 } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { toHex } from './bytes.ts';
import { NvidiaError } from './errors.ts';
import { decodeOpaque, formatVbiosVersion } from './opaque.ts';
import { parseSpdmEvidence } from './spdm.ts';

function expectNvidiaError(fn: () => unknown, code?: string): NvidiaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NvidiaError);
    if (code) expect((err as NvidiaError).code).toBe(code);
    return err as NvidiaError;
  }
  throw new Error('expected an NvidiaError');
}

describe('SPDM GET_MEASUREMENTS parsing (captured H100 reports)', () => {
  it('parses the 2023 nvtrust report: request nonce, 64 blocks, opaque versions', () => {
    const e = parseSpdmEvidence(H100_2023.report);
    expect(e.request.version).toBe(0x11);
    expect(toHex(e.request.nonce)).toBe(H100_2023.nonceHex);
    expect(e.response.blocks).toHaveLength(64);
    expect(e.response.blocks.every((b) => b.value.length === 48)).toBe(true);
    expect(e.signedBytes.length).toBe(H100_2023.report.length - 96);
    const info = decodeOpaque(e.response.opaque);
    expect(info).toMatchObject({ driverVersion: '545.00', vbiosVersion: '96.00.5E.00.01', chipSku: '882', project: '1010', projectSku: '0200' });
    expect(info.fwid).toBeUndefined();
    expect(info.raw['14']).toBe('b1030000');
  });

  it('matches trustee’s independent parse of the 550.90.07 report (every measurement, FWID, versions)', () => {
    const e = parseSpdmEvidence(H100_550.report);
    const info = decodeOpaque(e.response.opaque);
    const t = H100_550.trusteeClaims;
    expect(info.driverVersion).toBe(t.config.driver_version);
    expect(info.vbiosVersion).toBe(t.config.vbios_version?.toUpperCase());
    expect(toHex(info.fwid ?? new Uint8Array())).toBe(t.config.fwid);
    const mine = Object.fromEntries(e.response.blocks.map((b) => [String(b.index), toHex(b.value)]));
    expect(mine).toEqual(t.measurements);
  });

  it('formats VBIOS versions like nvtrust', () => {
    expect(formatVbiosVersion(Uint8Array.from(Buffer.from('005e009601000000', 'hex')))).toBe('96.00.5E.00.01');
    expectNvidiaError(() => formatVbiosVersion(new Uint8Array(7)), 'OpaqueMalformed');
  });

  it('rejects every truncation of the report with a typed error (no exception escapes)', () => {
    const codes = new Set<string>();
    for (let len = 0; len < H100_2023.report.length; len++) {
      codes.add(expectNvidiaError(() => parseSpdmEvidence(H100_2023.report.subarray(0, len))).code);
    }
    expect([...codes].sort()).toEqual(['SpdmMalformed']);
  });

  it('names the field it stopped at', () => {
    const err = expectNvidiaError(() => parseSpdmEvidence(H100_2023.report.subarray(0, 20)), 'SpdmMalformed');
    expect(err.message).toMatch(/request nonce/);
  });

  it('rejects trailing bytes, other SPDM versions and codes, unsigned requests', () => {
    const r = H100_2023.report;
    const withTail = new Uint8Array([...r, 0]);
    expectNvidiaError(() => parseSpdmEvidence(withTail), 'SpdmMalformed');
    const v12 = new Uint8Array(r);
    v12[0] = 0x12;
    expectNvidiaError(() => parseSpdmEvidence(v12), 'SpdmUnsupported');
    const respV = new Uint8Array(r);
    respV[37] = 0x10;
    expectNvidiaError(() => parseSpdmEvidence(respV), 'SpdmUnsupported');
    const code = new Uint8Array(r);
    code[1] = 0x81;
    expectNvidiaError(() => parseSpdmEvidence(code), 'SpdmMalformed');
    const noSig = new Uint8Array(r);
    noSig[2] = 0;
    expectNvidiaError(() => parseSpdmEvidence(noSig), 'SpdmMalformed');
  });

  it('rejects a measurement block whose DMTF size disagrees, or a non-DMTF block', () => {
    const spec = new Uint8Array(H100_2023.report);
    spec[37 + 8 + 1] = 2; // first block's MeasurementSpecification
    expect(expectNvidiaError(() => parseSpdmEvidence(spec), 'SpdmMalformed').message).toMatch(/not DMTF/);
    const size = new Uint8Array(H100_2023.report);
    size[37 + 8 + 5] = 0x2f; // first block's DMTF value size 48 → 47
    expect(expectNvidiaError(() => parseSpdmEvidence(size), 'SpdmMalformed').message).toMatch(/block 1/);
  });

  it('requires the opaque fields the RIM ids are built from', () => {
    const e = parseSpdmEvidence(H100_2023.report);
    const withoutDriver = e.response.opaque.filter((f) => f.type !== 3);
    expect(expectNvidiaError(() => decodeOpaque(withoutDriver), 'OpaqueMalformed').message).toMatch(/DRIVER_VERSION/);
    const badFwid = [...e.response.opaque, { type: 20, data: new Uint8Array(10) }];
    expectNvidiaError(() => decodeOpaque(badFwid), 'OpaqueMalformed');
  });
});
