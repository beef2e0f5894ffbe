// GPT disk layout written as a raw image: protective MBR, primary and backup headers and entry arrays,
// partitions at 1 MiB boundaries. GUIDs are derived from the image name and partition label, so the same
// inputs give the same disk bytes (no random UUIDs).
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const GPT_TYPE = {
  esp: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
  rootX86_64: '4f68bce3-e8cd-4db1-96e7-fbcaf984b709',
  rootVerityX86_64: '2c7357ed-ebd2-46d9-aec1-23d437ec2bf5',
  linuxData: '0fc63daf-8483-4772-8e79-3d69d8477de4',
} as const;

export interface GptPartition {
  label: string;
  type: string;
  /** Bytes; rounded up to 1 MiB. */
  size: number;
}

export interface GptLayout {
  diskBytes: number;
  /** Partition byte offsets and sizes in order. */
  partitions: { label: string; offset: number; size: number; guid: string }[];
  /** Sectors 0..2047 (MBR, header, entries). */
  head: Buffer;
  /** The last 33 sectors (backup entries + header). */
  tail: Buffer;
}

const SECTOR = 512;
const MIB = 1024 * 1024;
const ENTRIES = 128;
const ENTRY_SIZE = 128;

function guidBytes(text: string): Buffer {
  const h = text.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/.test(h)) throw new Error(`bad GUID ${text}`);
  const b = Buffer.from(h, 'hex');
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

/** A version-4-shaped GUID derived from a seed (deterministic). */
export function derivedGuid(seed: string): string {
  const b = createHash('sha256').update(seed).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function header(diskGuid: string, current: bigint, backup: bigint, firstUsable: bigint, lastUsable: bigint, entriesLba: bigint, entriesCrc: number): Buffer {
  const h = Buffer.alloc(SECTOR);
  h.write('EFI PART', 0, 'latin1');
  h.writeUInt32LE(0x00010000, 8);
  h.writeUInt32LE(92, 12);
  h.writeBigUInt64LE(current, 24);
  h.writeBigUInt64LE(backup, 32);
  h.writeBigUInt64LE(firstUsable, 40);
  h.writeBigUInt64LE(lastUsable, 48);
  guidBytes(diskGuid).copy(h, 56);
  h.writeBigUInt64LE(entriesLba, 72);
  h.writeUInt32LE(ENTRIES, 80);
  h.writeUInt32LE(ENTRY_SIZE, 84);
  h.writeUInt32LE(entriesCrc, 88);
  h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
  return h;
}

export function gptLayout(name: string, parts: readonly GptPartition[]): GptLayout {
  if (parts.length === 0 || parts.length > ENTRIES) throw new Error('GPT: 1..128 partitions');
  const entries = Buffer.alloc(ENTRIES * ENTRY_SIZE);
  const placed: GptLayout['partitions'] = [];
  let offset = MIB;
  parts.forEach((p, i) => {
    if (p.label.length === 0 || p.label.length > 36) throw new Error(`GPT: label "${p.label}" must be 1-36 characters`);
    const size = Math.ceil(p.size / MIB) * MIB;
    const guid = derivedGuid(`${name}/${p.label}`);
    const e = entries.subarray(i * ENTRY_SIZE, (i + 1) * ENTRY_SIZE);
    guidBytes(p.type).copy(e, 0);
    guidBytes(guid).copy(e, 16);
    e.writeBigUInt64LE(BigInt(offset / SECTOR), 32);
    e.writeBigUInt64LE(BigInt((offset + size) / SECTOR - 1), 40);
    e.write(p.label, 56, 72, 'utf16le');
    placed.push({ label: p.label, offset, size, guid });
    offset += size;
  });
  const diskBytes = offset + MIB;
  const lastLba = BigInt(diskBytes / SECTOR - 1);
  const entriesCrc = crc32(entries);
  const diskGuid = derivedGuid(`${name}/disk`);
  const firstUsable = 34n;
  const lastUsable = lastLba - 33n;
  const mbr = Buffer.alloc(SECTOR);
  mbr[446 + 4] = 0xee;
  mbr.writeUInt32LE(1, 446 + 8);
  mbr.writeUInt32LE(Math.min(diskBytes / SECTOR - 1, 0xffffffff), 446 + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  mbr[446 + 2] = 0x02; // CHS of the first sector, as fdisk writes it
  mbr[446 + 5] = 0xff;
  mbr[446 + 6] = 0xff;
  mbr[446 + 7] = 0xff;
  const head = Buffer.alloc(MIB);
  mbr.copy(head, 0);
  header(diskGuid, 1n, lastLba, firstUsable, lastUsable, 2n, entriesCrc).copy(head, SECTOR);
  entries.copy(head, 2 * SECTOR);
  const tail = Buffer.concat([entries, header(diskGuid, lastLba, 1n, firstUsable, lastUsable, lastLba - 32n, entriesCrc)]);
  return { diskBytes, partitions: placed, head, tail };
}
