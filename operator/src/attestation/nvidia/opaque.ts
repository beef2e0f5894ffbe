// NVIDIA opaque-data TLVs in the MEASUREMENTS response: typed view of the fields the verifier uses.
// Type numbers follow nvtrust `OpaqueData` / NVAT `GpuOpaqueDataType`.
import { toHex } from './bytes.ts';
import { NvidiaError } from './errors.ts';
import type { OpaqueField } from './spdm.ts';

export const OPAQUE = {
  DRIVER_VERSION: 3,
  GPU_INFO: 4,
  VBIOS_VERSION: 6,
  NVDEC0_STATUS: 11,
  MSRSCNT: 12,
  CPRINFO: 13,
  BOARD_ID: 14,
  CHIP_SKU: 15,
  CHIP_SKU_MOD: 16,
  PROJECT: 17,
  PROJECT_SKU: 18,
  PROJECT_SKU_MOD: 19,
  FWID: 20,
  PROTECTED_PCIE_STATUS: 21,
} as const;

export const NVDEC_ENABLED = 0xaa;
export const NVDEC_DISABLED = 0x55;

export interface GpuOpaqueInfo {
  driverVersion: string;
  /** Dotted form used by RIMs, e.g. `96.00.5E.00.01`. */
  vbiosVersion: string;
  chipSku: string;
  project: string;
  projectSku: string;
  /** Firmware ID (48 bytes) when the firmware reports one. */
  fwid: Uint8Array | undefined;
  nvdec0Status: number | undefined;
  /** Every field as hex keyed by type number, for diagnostics and claims. */
  raw: Record<string, string>;
}

function text(data: Uint8Array): string {
  const end = data.indexOf(0);
  return Buffer.from(end < 0 ? data : data.subarray(0, end)).toString('latin1');
}

/** nvtrust formatting: read 8 bytes little-endian, then major parts from the low word and the OEM byte last. */
export function formatVbiosVersion(data: Uint8Array): string {
  if (data.length !== 8) throw new NvidiaError('OpaqueMalformed', `VBIOS_VERSION is ${data.length} bytes, expected 8`);
  const le = toHex(Uint8Array.from(data).reverse());
  const half = le.length / 2;
  const digits = le.slice(half) + le.slice(half - 2, half);
  const parts: string[] = [];
  for (let i = 0; i < digits.length; i += 2) parts.push(digits.slice(i, i + 2));
  return parts.join('.').toUpperCase();
}

export function decodeOpaque(fields: OpaqueField[]): GpuOpaqueInfo {
  const byType = new Map(fields.map((f) => [f.type, f.data]));
  const required = (type: number, name: string): Uint8Array => {
    const d = byType.get(type);
    if (!d) throw new NvidiaError('OpaqueMalformed', `opaque field ${name} (type ${type}) is missing`);
    return d;
  };
  const fwid = byType.get(OPAQUE.FWID);
  if (fwid && fwid.length !== 48) throw new NvidiaError('OpaqueMalformed', `opaque FWID is ${fwid.length} bytes, expected 48`);
  const nvdec = byType.get(OPAQUE.NVDEC0_STATUS);
  const raw: Record<string, string> = {};
  for (const f of fields) raw[String(f.type)] = toHex(f.data);
  const driverVersion = text(required(OPAQUE.DRIVER_VERSION, 'DRIVER_VERSION'));
  if (!/^[0-9A-Za-z.]{1,32}$/.test(driverVersion)) {
    throw new NvidiaError('OpaqueMalformed', 'opaque DRIVER_VERSION is not a printable version string');
  }
  const ident = (type: number, name: string): string => {
    const v = text(required(type, name));
    if (!/^[0-9A-Za-z]{0,16}$/.test(v)) throw new NvidiaError('OpaqueMalformed', `opaque ${name} is not alphanumeric`);
    return v;
  };
  return {
    driverVersion,
    vbiosVersion: formatVbiosVersion(required(OPAQUE.VBIOS_VERSION, 'VBIOS_VERSION')),
    chipSku: ident(OPAQUE.CHIP_SKU, 'CHIP_SKU'),
    project: ident(OPAQUE.PROJECT, 'PROJECT'),
    projectSku: ident(OPAQUE.PROJECT_SKU, 'PROJECT_SKU'),
    fwid,
    nvdec0Status: nvdec && nvdec.length >= 1 ? nvdec[0] : undefined,
    raw,
  };
}
