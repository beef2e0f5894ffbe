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

// The captured report's layout: request (37 bytes) ‖ response header (8) ‖ 64 blocks of 55 bytes ‖ responder
// nonce (32) ‖ opaque length (2) ‖ 12 opaque fields (354 bytes) ‖ signature (96).
const REPORT = H100_2023.report;
const RECORD_AT = 45;
const RECORD_LENGTH = 64 * 55;
const NONCE_AT = RECORD_AT + RECORD_LENGTH;
const OPAQUE_AT = NONCE_AT + 32 + 2;
const OPAQUE_LENGTH = 354;

/** A report re-assembled from the captured one with some parts replaced (lengths recomputed). */
function assemble(parts: { count?: number; record?: Uint8Array; opaque?: Uint8Array } = {}): Uint8Array {
  const record = parts.record ?? REPORT.subarray(RECORD_AT, NONCE_AT);
  const opaque = parts.opaque ?? REPORT.subarray(OPAQUE_AT, OPAQUE_AT + OPAQUE_LENGTH);
  const header = Uint8Array.from([...REPORT.subarray(0, 41), parts.count ?? 64, record.length & 0xff, (record.length >> 8) & 0xff, record.length >> 16]);
  const opaqueLength = Uint8Array.from([opaque.length & 0xff, opaque.length >> 8]);
  return new Uint8Array(Buffer.concat([header, record, REPORT.subarray(NONCE_AT, NONCE_AT + 32), opaqueLength, opaque, REPORT.subarray(REPORT.length - 96)]));
}

function edited(at: number, value: number): Uint8Array {
  const out = new Uint8Array(REPORT);
  out[at] = value;
  return out;
}

const message = (bytes: Uint8Array, code: string): string => expectNvidiaError(() => parseSpdmEvidence(bytes), code).message;

describe('SPDM GET_MEASUREMENTS parsing: each check and field by name', () => {
  it('returns every request and response field where the layout puts it', () => {
    expect(parseSpdmEvidence(assemble()).signedBytes).toEqual(REPORT.subarray(0, REPORT.length - 96));
    const e = parseSpdmEvidence(REPORT);
    expect(e.request).toMatchObject({ version: 0x11, param1: 1, param2: 0xff, slotId: 0 });
    expect(e.response).toMatchObject({ version: 0x11, param1: REPORT[39], param2: REPORT[40] });
    expect(toHex(e.response.responderNonce)).toBe(toHex(REPORT.subarray(NONCE_AT, NONCE_AT + 32)));
    expect(toHex(e.response.signature)).toBe(toHex(REPORT.subarray(REPORT.length - 96)));
    expect(e.response.blocks.map((b) => b.index)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect(e.response.blocks[0]).toMatchObject({ index: 1, valueType: REPORT[RECORD_AT + 4] });
    expect(toHex(e.response.blocks[0]?.value ?? new Uint8Array())).toBe(toHex(REPORT.subarray(RECORD_AT + 7, RECORD_AT + 55)));
    expect(e.response.opaque.map((f) => f.type)).toEqual([6, 14, 15, 16, 17, 18, 19, 3, 4, 12, 13, 11]);
    expect(e.response.opaque.map((f) => f.data.length)).toEqual([8, 4, 4, 2, 5, 5, 2, 7, 8, 256, 4, 1]);
    // A request with more Param1 bits than the signature bit still asks for a signature.
    expect(parseSpdmEvidence(edited(2, 0x03)).request.param1).toBe(3);
  });

  it('names the version, code and Param1 it refuses', () => {
    expect(message(edited(0, 0x12), 'SpdmUnsupported')).toBe('request SPDMVersion 0x12 is not 0x11 (SPDM 1.1)');
    expect(message(edited(1, 0x81), 'SpdmMalformed')).toBe('request code 0x81 is not GET_MEASUREMENTS (0xe0)');
    expect(message(edited(2, 0xfe), 'SpdmMalformed')).toBe('request Param1 does not ask for a signature');
    expect(message(edited(37, 0x10), 'SpdmUnsupported')).toBe('response SPDMVersion 0x10 is not 0x11 (SPDM 1.1)');
    expect(message(edited(38, 0x61), 'SpdmMalformed')).toBe('response code 0x61 is not MEASUREMENTS (0x60)');
    expect(message(new Uint8Array([...REPORT, 0, 0]), 'SpdmMalformed')).toBe('2 unexpected bytes after the response signature');
  });

  it('names the field a truncated report stops at', () => {
    const cuts: [number, string][] = [
      [0, 'request SPDMVersion'],
      [1, 'request RequestResponseCode'],
      [2, 'request Param1'],
      [3, 'request Param2'],
      [36, 'request SlotID'],
      [37, 'response SPDMVersion'],
      [38, 'response code'],
      [39, 'response Param1'],
      [40, 'response Param2'],
      [41, 'response NumberOfBlocks'],
      [42, 'response MeasurementRecordLength'],
      [RECORD_AT, 'response MeasurementRecord'],
      [NONCE_AT, 'response nonce'],
      [OPAQUE_AT - 2, 'response OpaqueLength'],
      [OPAQUE_AT, 'response OpaqueData'],
      [REPORT.length - 1, 'response Signature'],
    ];
    for (const [len, field] of cuts) {
      expect(message(REPORT.subarray(0, len), 'SpdmMalformed')).toMatch(new RegExp(`^truncated at ${field}: `));
    }
  });

  it('names the block, and the part of it, where the measurement record goes wrong', () => {
    const block = (i: number): Uint8Array => REPORT.subarray(RECORD_AT + 55 * i, RECORD_AT + 55 * (i + 1));
    const record = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
    const m = (r: Uint8Array, count: number): string => message(assemble({ record: r, count }), 'SpdmMalformed');
    expect(m(record(block(0)), 2)).toMatch(/^truncated at measurement block 1 index: /);
    expect(m(record(block(0), block(1).subarray(0, 1)), 2)).toMatch(/^truncated at measurement block 1 specification: /);
    expect(m(record(block(0), block(1).subarray(0, 3)), 2)).toMatch(/^truncated at measurement block 1 size: /);
    expect(m(record(block(0), block(1).subarray(0, 54)), 2)).toMatch(/^truncated at measurement block 2 body \(51 bytes\): /);
    const sized = (size: number): Uint8Array => record(Uint8Array.from([1, 1, size, 0]), block(0).subarray(4, 4 + size));
    expect(m(sized(0), 1)).toMatch(/^truncated at measurement block 1 value type: /);
    expect(m(sized(2), 1)).toMatch(/^truncated at measurement block 1 value size: /);
    expect(m(sized(3), 1)).toMatch(/^truncated at measurement block 1 value: /);
    expect(m(record(block(0), block(1)), 1)).toBe('measurement record has 55 bytes after 1 blocks');
    expect(message(edited(41, 63), 'SpdmMalformed')).toBe('measurement record has 55 bytes after 63 blocks');
    // The second block claims index 1 again.
    expect(message(edited(RECORD_AT + 55, 1), 'SpdmMalformed')).toBe('measurement block index 1 appears twice');
    expect(message(edited(RECORD_AT + 1, 2), 'SpdmMalformed')).toBe('measurement block 1: specification 2 is not DMTF (1)');
    expect(message(edited(RECORD_AT + 5, 0x2f), 'SpdmMalformed')).toBe('measurement block 1: size 51 disagrees with DMTF value size 47');
    // No blocks at all is a well-formed (if useless) record.
    expect(parseSpdmEvidence(assemble({ record: new Uint8Array(), count: 0 })).response.blocks).toEqual([]);
  });

  it('refuses opaque data with a repeated or truncated field (OpaqueMalformed, naming the type)', () => {
    const opaque = REPORT.subarray(OPAQUE_AT, OPAQUE_AT + OPAQUE_LENGTH);
    // The second field (type 14) relabelled as type 6, which the first field already is.
    expect(message(edited(OPAQUE_AT + 12, 6), 'OpaqueMalformed')).toBe('opaque field type 6 appears twice');
    expect(message(assemble({ opaque: opaque.subarray(0, 1) }), 'OpaqueMalformed')).toMatch(/^truncated at opaque field type: /);
    expect(message(assemble({ opaque: opaque.subarray(0, 3) }), 'OpaqueMalformed')).toMatch(/^truncated at opaque field 6 size: /);
    expect(message(assemble({ opaque: opaque.subarray(0, 11) }), 'OpaqueMalformed')).toMatch(/^truncated at opaque field 6 data: /);
    expect(parseSpdmEvidence(assemble({ opaque: new Uint8Array() })).response.opaque).toEqual([]);
  });
});
