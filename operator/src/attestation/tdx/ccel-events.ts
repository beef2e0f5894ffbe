// Decoding of the event data that matters for appraisal: boot applications (UEFI_IMAGE_LOAD_EVENT with its
// device path), UEFI variables (UEFI_VARIABLE_DATA), attestation-agent AAEL tagged events, and text events.
import { ByteReader } from './bytes.ts';
import { EV_NO_ACTION } from './ccel.ts';

const EVENT_TYPE_NAMES: Record<number, string> = {
  0x0: 'EV_PREBOOT_CERT', 0x1: 'EV_POST_CODE', 0x3: 'EV_NO_ACTION', 0x4: 'EV_SEPARATOR', 0x5: 'EV_ACTION', 0x6: 'EV_EVENT_TAG',
  0x7: 'EV_S_CRTM_CONTENTS', 0x8: 'EV_S_CRTM_VERSION', 0x9: 'EV_CPU_MICROCODE', 0xa: 'EV_PLATFORM_CONFIG_FLAGS', 0xb: 'EV_TABLE_OF_DEVICES',
  0xc: 'EV_COMPACT_HASH', 0xd: 'EV_IPL', 0xe: 'EV_IPL_PARTITION_DATA', 0xf: 'EV_NONHOST_CODE', 0x10: 'EV_NONHOST_CONFIG', 0x11: 'EV_NONHOST_INFO',
  0x12: 'EV_OMIT_BOOT_DEVICE_EVENTS',
  0x80000001: 'EV_EFI_VARIABLE_DRIVER_CONFIG', 0x80000002: 'EV_EFI_VARIABLE_BOOT', 0x80000003: 'EV_EFI_BOOT_SERVICES_APPLICATION',
  0x80000004: 'EV_EFI_BOOT_SERVICES_DRIVER', 0x80000005: 'EV_EFI_RUNTIME_SERVICES_DRIVER', 0x80000006: 'EV_EFI_GPT_EVENT', 0x80000007: 'EV_EFI_ACTION',
  0x80000008: 'EV_EFI_PLATFORM_FIRMWARE_BLOB', 0x80000009: 'EV_EFI_HANDOFF_TABLES', 0x8000000a: 'EV_EFI_PLATFORM_FIRMWARE_BLOB2',
  0x8000000b: 'EV_EFI_HANDOFF_TABLES2', 0x8000000c: 'EV_EFI_VARIABLE_BOOT2', 0x80000010: 'EV_EFI_HCRTM_EVENT', 0x800000e0: 'EV_EFI_VARIABLE_AUTHORITY',
  0x800000e1: 'EV_EFI_SPDM_FIRMWARE_BLOB', 0x800000e2: 'EV_EFI_SPDM_FIRMWARE_CONFIG',
};
export const EV_EVENT_TAG = 0x6;
export const EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003;
const VARIABLE_EVENTS = new Set([0x80000001, 0x80000002, 0x8000000c, 0x800000e0]);
const TEXT_EVENTS = new Set([0x1, 0x4, 0x5, 0xd, 0x80000007]);
/** "AAEL" as the little-endian u32 tag written by the attestation agent. */
export const AAEL_TAG = 0x4141454c;

export function eventTypeName(type: number): string {
  return EVENT_TYPE_NAMES[type] ?? `0x${type.toString(16).padStart(8, '0')}`;
}

export type DecodedEvent =
  | { kind: 'boot_application'; imageLength: number; devicePath: string }
  | { kind: 'uefi_variable'; guid: string; name: string; dataLength: number }
  | { kind: 'aael'; domain: string; operation: string; content: string }
  | { kind: 'tagged'; tag: number; dataLength: number }
  | { kind: 'text'; text: string };

function guidText(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  const le = (s: string) => s.match(/../g)?.reverse().join('') ?? '';
  return `${le(h.slice(0, 8))}-${le(h.slice(8, 12))}-${le(h.slice(12, 16))}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** UEFI device path as hex "type/subtype" nodes, with HD and File(...) spelled out. */
export function devicePathText(path: Uint8Array): string {
  const r = new ByteReader(path, 'device path', 'EventLogMalformed');
  const nodes: string[] = [];
  while (r.remaining >= 4) {
    const type = r.bytes(1, 'type')[0] ?? 0;
    const subtype = r.bytes(1, 'subtype')[0] ?? 0;
    const len = r.u16('length');
    if (len < 4) break;
    const body = r.bytes(len - 4, 'node');
    if (type === 0x7f) break;
    if (type === 4 && subtype === 4) nodes.push(`File(${Buffer.from(body).toString('utf16le').replace(/\0+$/, '')})`);
    else if (type === 4 && subtype === 1) nodes.push('HD');
    else nodes.push(`${type.toString(16)}/${subtype.toString(16)}`);
  }
  return nodes.join('/');
}

function printable(data: Uint8Array): string | undefined {
  const text = Buffer.from(data).toString('utf8').replace(/\0+$/, '');
  return /^[\x20-\x7e\t\r\n]*$/.test(text) ? text : undefined;
}

/** Decodes the event data of known types; undefined for opaque or undecodable data (never throws). */
export function decodeEvent(eventType: number, data: Uint8Array): DecodedEvent | undefined {
  try {
    if (eventType === EV_EFI_BOOT_SERVICES_APPLICATION) {
      const r = new ByteReader(data, 'image load event', 'EventLogMalformed');
      r.u64('location');
      const imageLength = Number(r.u64('length'));
      r.u64('link_time_address');
      const pathLen = Number(r.u64('device_path_length'));
      return { kind: 'boot_application', imageLength, devicePath: devicePathText(r.bytes(pathLen, 'device_path')) };
    }
    if (VARIABLE_EVENTS.has(eventType)) {
      const r = new ByteReader(data, 'variable event', 'EventLogMalformed');
      const guid = guidText(r.bytes(16, 'guid'));
      const nameLen = Number(r.u64('name_length'));
      const dataLength = Number(r.u64('data_length'));
      const name = Buffer.from(r.bytes(nameLen * 2, 'name')).toString('utf16le');
      return { kind: 'uefi_variable', guid, name, dataLength };
    }
    if (eventType === EV_EVENT_TAG) {
      const r = new ByteReader(data, 'tagged event', 'EventLogMalformed');
      const tag = r.u32('tag');
      const size = r.u32('size');
      const body = r.bytes(size, 'data');
      if (tag === AAEL_TAG) {
        const text = new TextDecoder('utf-8', { fatal: true }).decode(body);
        const [domain = '', operation = '', ...rest] = text.split(' ');
        return { kind: 'aael', domain, operation, content: rest.join(' ') };
      }
      return { kind: 'tagged', tag, dataLength: size };
    }
    if (TEXT_EVENTS.has(eventType) && eventType !== EV_NO_ACTION) {
      const text = printable(data);
      return text === undefined ? undefined : { kind: 'text', text };
    }
  } catch {
    return undefined;
  }
  return undefined;
}
