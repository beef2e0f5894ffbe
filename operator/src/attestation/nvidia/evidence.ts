// The two JSON shapes GPU evidence arrives in:
//  - KBS additional evidence (trustee `NvDeviceEvidence`): {"device_evidence_list":[{arch, uuid, evidence, certificate}]}
//  - NVIDIA attestation SDK evidence list: [{arch, certificate, evidence, nonce, driver_version, vbios_version, version}]
// `evidence` is base64 (hex accepted, as trustee does) of SPDM request‖response; `certificate` is base64 of a PEM chain.
import { decodeBase64, decodeHex, decodeHexOrBase64 } from './bytes.ts';
import { NvidiaError } from './errors.ts';
import type { GpuArch } from './rim-id.ts';

export const MAX_DEVICES = 64;
const MAX_FIELD = 1 << 20;

export interface GpuEvidenceItem {
  /** Position in the list (GPU numbering for messages and claims). */
  position: number;
  arch: GpuArch;
  uuid: string;
  /** SPDM GET_MEASUREMENTS request ‖ response. */
  report: Uint8Array;
  /** PEM certificate chain, leaf first. */
  certChainPem: string;
  /** SDK layout only: the nonce the SDK says it used (hex-decoded, 32 bytes). */
  nonce?: Uint8Array;
  /** SDK layout only: versions the SDK read from the driver; must equal the signed report's. */
  driverVersion?: string;
  vbiosVersion?: string;
}

export type EvidenceLayout = 'kbs' | 'sdk';

const bad = (why: string): NvidiaError => new NvidiaError('EvidenceMalformed', why);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(entry: Record<string, unknown>, key: string, where: string, optional = false): string | undefined {
  const v = entry[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw bad(`${where}.${key} must be a non-empty string`);
  if (v.length > MAX_FIELD) throw bad(`${where}.${key} is larger than ${MAX_FIELD} characters`);
  return v;
}

function parseArch(value: string, where: string): GpuArch {
  const upper = value.toUpperCase();
  if (upper === 'HOPPER' || upper === 'BLACKWELL') return upper;
  throw new NvidiaError('SpdmUnsupported', `${where}.arch '${value.slice(0, 32)}' is not a supported GPU architecture (HOPPER, BLACKWELL)`);
}

function certificatePem(value: string, where: string): string {
  if (value.trimStart().startsWith('-----BEGIN')) return value;
  const pem = Buffer.from(decodeBase64(value, `${where}.certificate`)).toString('latin1');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw bad(`${where}.certificate does not decode to a PEM certificate chain`);
  return pem;
}

function parseEntry(entry: unknown, position: number, layout: EvidenceLayout): GpuEvidenceItem {
  const where = layout === 'kbs' ? `device_evidence_list[${position}]` : `evidence[${position}]`;
  if (!isRecord(entry)) throw bad(`${where} must be an object`);
  const item: GpuEvidenceItem = {
    position,
    arch: parseArch(str(entry, 'arch', where) as string, where),
    uuid: str(entry, 'uuid', where, true) ?? 'unknown',
    report: decodeHexOrBase64(str(entry, 'evidence', where) as string, `${where}.evidence`),
    certChainPem: certificatePem(str(entry, 'certificate', where) as string, where),
  };
  if (layout === 'sdk') {
    const nonce = str(entry, 'nonce', where, true);
    if (nonce !== undefined) {
      item.nonce = decodeHex(nonce, `${where}.nonce`);
      if (item.nonce.length !== 32) throw bad(`${where}.nonce is ${item.nonce.length} bytes, expected 32`);
    }
    const driver = str(entry, 'driver_version', where, true);
    const vbios = str(entry, 'vbios_version', where, true);
    if (driver !== undefined) item.driverVersion = driver;
    if (vbios !== undefined) item.vbiosVersion = vbios;
  }
  return item;
}

/** Accepts either layout (a parsed JSON value); throws NvidiaError with the offending field named. */
export function parseGpuEvidence(value: unknown): { layout: EvidenceLayout; items: GpuEvidenceItem[] } {
  let layout: EvidenceLayout;
  let list: unknown;
  if (Array.isArray(value)) {
    layout = 'sdk';
    list = value;
  } else if (isRecord(value) && 'device_evidence_list' in value) {
    layout = 'kbs';
    list = value.device_evidence_list;
    if (!Array.isArray(list)) throw bad('device_evidence_list must be an array');
  } else {
    throw bad('GPU evidence must be {"device_evidence_list":[...]} (KBS) or an array of SDK evidence entries');
  }
  const entries = list as unknown[];
  if (entries.length === 0) throw bad('GPU evidence lists no devices');
  if (entries.length > MAX_DEVICES) throw bad(`GPU evidence lists ${entries.length} devices (at most ${MAX_DEVICES})`);
  return { layout, items: entries.map((e, i) => parseEntry(e, i, layout)) };
}
