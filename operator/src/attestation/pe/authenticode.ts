// Authenticode digest of a PE/COFF image (a UKI, shim, GRUB, any EFI binary), computed the way UEFI
// firmware does before it measures a boot application into the TDX RTMRs / TPM PCRs (EDK2
// DxeImageVerificationLib / Microsoft "Windows Authenticode PE Signature Format"): hash the headers minus
// the CheckSum field and the Certificate Table directory entry, then the sections in file order, then any
// data after the sections that is not the attribute certificate table.
import { createHash } from 'node:crypto';

export type AuthenticodeAlgorithm = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export type PeErrorCode = 'NotPe' | 'Truncated' | 'BadOptionalHeader' | 'BadSection' | 'BadCertificateTable' | 'NoSignature' | 'BadSignature';

export class PeError extends Error {
  readonly code: PeErrorCode;
  constructor(code: PeErrorCode, message: string) {
    super(message);
    this.name = 'PeError';
    this.code = code;
  }
}

export interface PeLayout {
  checksumOffset: number;
  certDirOffset: number;
  sizeOfHeaders: number;
  sections: { name: string; pointerToRawData: number; sizeOfRawData: number }[];
  /** Attribute certificate table (file offset and size); size 0 when unsigned. */
  certTable: { offset: number; size: number };
}

const need = (buf: Buffer, end: number, what: string): void => {
  if (end > buf.length) throw new PeError('Truncated', `PE: ${what} extends past the end of the file (${end} > ${buf.length})`);
};

/** Parses just the fields the Authenticode digest depends on, checking every offset against the file size. */
export function parsePeLayout(pe: Buffer): PeLayout {
  need(pe, 0x40, 'DOS header');
  if (pe.readUInt16LE(0) !== 0x5a4d) throw new PeError('NotPe', 'PE: no MZ signature at offset 0');
  const peOff = pe.readUInt32LE(0x3c);
  need(pe, peOff + 24, 'PE signature and COFF header');
  if (pe.readUInt32LE(peOff) !== 0x00004550) throw new PeError('NotPe', `PE: no 'PE\\0\\0' signature at e_lfanew 0x${peOff.toString(16)}`);
  const numSections = pe.readUInt16LE(peOff + 6);
  const optSize = pe.readUInt16LE(peOff + 20);
  const opt = peOff + 24;
  need(pe, opt + optSize, 'optional header');
  if (optSize < 2) throw new PeError('BadOptionalHeader', 'PE: optional header is missing');
  const magic = pe.readUInt16LE(opt);
  if (magic !== 0x10b && magic !== 0x20b) throw new PeError('BadOptionalHeader', `PE: optional header magic 0x${magic.toString(16)} is neither PE32 nor PE32+`);
  const plus = magic === 0x20b;
  const numDirsOff = opt + (plus ? 108 : 92);
  const dirs = opt + (plus ? 112 : 96);
  if (numDirsOff + 4 > opt + optSize) throw new PeError('BadOptionalHeader', 'PE: optional header too short for NumberOfRvaAndSizes');
  const numDirs = pe.readUInt32LE(numDirsOff);
  const certDirOffset = dirs + 4 * 8;
  if (numDirs < 5 || certDirOffset + 8 > opt + optSize) {
    throw new PeError('BadOptionalHeader', 'PE: no Certificate Table data directory (NumberOfRvaAndSizes < 5)');
  }
  const sizeOfHeaders = pe.readUInt32LE(opt + 60);
  const sectionTable = opt + optSize;
  need(pe, sectionTable + numSections * 40, 'section table');
  if (sizeOfHeaders < sectionTable + numSections * 40 || sizeOfHeaders > pe.length) {
    throw new PeError('BadOptionalHeader', `PE: SizeOfHeaders ${sizeOfHeaders} does not cover the section table or exceeds the file`);
  }
  const sections = [];
  for (let i = 0; i < numSections; i++) {
    const s = sectionTable + i * 40;
    const name = pe.subarray(s, s + 8).toString('latin1').replace(/\0+$/, '');
    const sizeOfRawData = pe.readUInt32LE(s + 16);
    const pointerToRawData = pe.readUInt32LE(s + 20);
    if (sizeOfRawData === 0) continue;
    if (pointerToRawData + sizeOfRawData > pe.length) throw new PeError('BadSection', `PE: section '${name}' raw data extends past the end of the file`);
    sections.push({ name, pointerToRawData, sizeOfRawData });
  }
  sections.sort((a, b) => a.pointerToRawData - b.pointerToRawData);
  const certOff = pe.readUInt32LE(certDirOffset);
  const certSize = pe.readUInt32LE(certDirOffset + 4);
  if (certSize > 0 && (certOff < sizeOfHeaders || certOff + certSize > pe.length)) {
    throw new PeError('BadCertificateTable', `PE: certificate table [${certOff}, +${certSize}) is outside the file`);
  }
  return { checksumOffset: opt + 64, certDirOffset, sizeOfHeaders, sections, certTable: { offset: certOff, size: certSize } };
}

/** The Authenticode digest (hex) of a PE image; `sha384` is what cryptpilot publishes as measurement.uki.SHA-384. */
export function authenticodeDigest(pe: Buffer, algorithm: AuthenticodeAlgorithm = 'sha384'): string {
  const l = parsePeLayout(pe);
  const h = createHash(algorithm);
  h.update(pe.subarray(0, l.checksumOffset));
  h.update(pe.subarray(l.checksumOffset + 4, l.certDirOffset));
  h.update(pe.subarray(l.certDirOffset + 8, l.sizeOfHeaders));
  let hashed = l.sizeOfHeaders;
  for (const s of l.sections) {
    h.update(pe.subarray(s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData));
    hashed += s.sizeOfRawData;
  }
  // Trailing data (e.g. alignment padding before the signature) is covered; the certificate table is not.
  const end = pe.length - l.certTable.size;
  if (end > hashed) h.update(pe.subarray(hashed, end));
  return h.digest('hex');
}
