// SPDM 1.1 GET_MEASUREMENTS request (37 bytes) ‖ MEASUREMENTS response, as NVIDIA GPUs return it.
// Layout: DMTF DSP0274 1.1 §10.11; the GPU signs request ‖ response-without-signature with P-384 (raw r‖s).
import { ByteReader } from './bytes.ts';
import { NvidiaError } from './errors.ts';

export const SPDM_VERSION_1_1 = 0x11;
export const GET_MEASUREMENTS = 0xe0;
export const MEASUREMENTS = 0x60;
export const REQUEST_LENGTH = 37;
export const NONCE_LENGTH = 32;
export const SIGNATURE_LENGTH = 96;
const DMTF_MEASUREMENT_SPEC = 0x01;

export interface MeasurementBlock {
  /** SPDM block index (1-based on NVIDIA GPUs; RIM index = block index − 1). */
  index: number;
  /** DMTF measurement value type byte. */
  valueType: number;
  value: Uint8Array;
}

export interface OpaqueField {
  type: number;
  data: Uint8Array;
}

export interface SpdmMeasurementsEvidence {
  request: { version: number; param1: number; param2: number; nonce: Uint8Array; slotId: number };
  response: {
    version: number;
    param1: number;
    param2: number;
    blocks: MeasurementBlock[];
    responderNonce: Uint8Array;
    opaque: OpaqueField[];
    signature: Uint8Array;
  };
  /** Exactly the bytes the signature covers: request ‖ response minus the trailing signature. */
  signedBytes: Uint8Array;
}

function parseBlocks(record: Uint8Array, count: number): MeasurementBlock[] {
  const r = new ByteReader(record, 'SpdmMalformed');
  const blocks: MeasurementBlock[] = [];
  const seen = new Set<number>();
  for (let n = 0; n < count; n++) {
    const index = r.u8(`measurement block ${n} index`);
    const spec = r.u8(`measurement block ${n} specification`);
    const size = r.u16(`measurement block ${n} size`);
    const body = new ByteReader(r.take(size, `measurement block ${index} body (${size} bytes)`), 'SpdmMalformed');
    if (spec !== DMTF_MEASUREMENT_SPEC) {
      throw new NvidiaError('SpdmMalformed', `measurement block ${index}: specification ${spec} is not DMTF (1)`);
    }
    const valueType = body.u8(`measurement block ${index} value type`);
    const valueSize = body.u16(`measurement block ${index} value size`);
    const value = body.take(valueSize, `measurement block ${index} value`);
    if (body.remaining !== 0) {
      throw new NvidiaError('SpdmMalformed', `measurement block ${index}: size ${size} disagrees with DMTF value size ${valueSize}`);
    }
    if (seen.has(index)) throw new NvidiaError('SpdmMalformed', `measurement block index ${index} appears twice`);
    seen.add(index);
    blocks.push({ index, valueType, value });
  }
  if (r.remaining !== 0) {
    throw new NvidiaError('SpdmMalformed', `measurement record has ${r.remaining} bytes after ${count} blocks`);
  }
  return blocks;
}

function parseOpaque(data: Uint8Array): OpaqueField[] {
  const r = new ByteReader(data, 'OpaqueMalformed');
  const fields: OpaqueField[] = [];
  const seen = new Set<number>();
  while (r.remaining > 0) {
    const type = r.u16('opaque field type');
    const size = r.u16(`opaque field ${type} size`);
    const value = r.take(size, `opaque field ${type} data`);
    if (seen.has(type)) throw new NvidiaError('OpaqueMalformed', `opaque field type ${type} appears twice`);
    seen.add(type);
    fields.push({ type, data: value });
  }
  return fields;
}

/** Parses request ‖ response. Throws NvidiaError (SpdmMalformed / SpdmUnsupported / OpaqueMalformed) only. */
export function parseSpdmEvidence(bytes: Uint8Array): SpdmMeasurementsEvidence {
  const r = new ByteReader(bytes, 'SpdmMalformed');
  const reqVersion = r.u8('request SPDMVersion');
  const reqCode = r.u8('request RequestResponseCode');
  if (reqVersion !== SPDM_VERSION_1_1) {
    throw new NvidiaError('SpdmUnsupported', `request SPDMVersion 0x${reqVersion.toString(16)} is not 0x11 (SPDM 1.1)`);
  }
  if (reqCode !== GET_MEASUREMENTS) {
    throw new NvidiaError('SpdmMalformed', `request code 0x${reqCode.toString(16)} is not GET_MEASUREMENTS (0xe0)`);
  }
  const param1 = r.u8('request Param1');
  const param2 = r.u8('request Param2');
  const nonce = r.take(NONCE_LENGTH, 'request nonce');
  const slotId = r.u8('request SlotID');
  if ((param1 & 0x01) === 0) throw new NvidiaError('SpdmMalformed', 'request Param1 does not ask for a signature');

  // The request fields above are fixed-size, so the response always starts at REQUEST_LENGTH (37).
  const version = r.u8('response SPDMVersion');
  const code = r.u8('response code');
  if (version !== SPDM_VERSION_1_1) {
    throw new NvidiaError('SpdmUnsupported', `response SPDMVersion 0x${version.toString(16)} is not 0x11 (SPDM 1.1)`);
  }
  if (code !== MEASUREMENTS) {
    throw new NvidiaError('SpdmMalformed', `response code 0x${code.toString(16)} is not MEASUREMENTS (0x60)`);
  }
  const rParam1 = r.u8('response Param1');
  const rParam2 = r.u8('response Param2');
  const count = r.u8('response NumberOfBlocks');
  const recordLength = r.u24('response MeasurementRecordLength');
  const record = r.take(recordLength, 'response MeasurementRecord');
  const responderNonce = r.take(NONCE_LENGTH, 'response nonce');
  const opaqueLength = r.u16('response OpaqueLength');
  const opaqueData = r.take(opaqueLength, 'response OpaqueData');
  const signedEnd = r.offset;
  const signature = r.take(SIGNATURE_LENGTH, 'response Signature');
  if (r.remaining !== 0) {
    throw new NvidiaError('SpdmMalformed', `${r.remaining} unexpected bytes after the response signature`);
  }
  return {
    request: { version: reqVersion, param1, param2, nonce, slotId },
    response: {
      version,
      param1: rParam1,
      param2: rParam2,
      blocks: parseBlocks(record, count),
      responderNonce,
      opaque: parseOpaque(opaqueData),
      signature,
    },
    signedBytes: bytes.subarray(0, signedEnd),
  };
}
