// Unified kernel image assembly: the systemd EFI stub (a PE32+ image) with .osrel, .cmdline, .uname,
// .initrd and .linux appended as initialised-data sections, as ukify does. Written here instead of with
// objcopy so the result depends only on the input bytes (no timestamps, no tool-version layout changes):
// the firmware measures this file's Authenticode hash, and the published reference value must be
// reproducible by anyone from the same inputs.
import { PeError } from '../attestation/pe/authenticode.ts';

export interface UkiSections {
  osrel: Buffer;
  cmdline: Buffer;
  uname?: Buffer;
  initrd: Buffer;
  linux: Buffer;
}

const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x00000040;
const IMAGE_SCN_MEM_READ = 0x40000000;
const SECTION_HEADER_SIZE = 40;

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

export function assembleUki(stub: Buffer, s: UkiSections): Buffer {
  if (stub.length < 0x40 || stub.readUInt16LE(0) !== 0x5a4d) throw new PeError('NotPe', 'UKI stub: no MZ header');
  const peOff = stub.readUInt32LE(0x3c);
  if (peOff + 24 > stub.length || stub.readUInt32LE(peOff) !== 0x00004550) throw new PeError('NotPe', 'UKI stub: no PE signature');
  const coff = peOff + 4;
  const nSections = stub.readUInt16LE(coff + 2);
  const optSize = stub.readUInt16LE(coff + 16);
  const opt = coff + 20;
  if (stub.readUInt16LE(opt) !== 0x20b) throw new PeError('BadOptionalHeader', 'UKI stub: not PE32+');
  const sectionAlign = stub.readUInt32LE(opt + 32);
  const fileAlign = stub.readUInt32LE(opt + 36);
  const sizeOfHeaders = stub.readUInt32LE(opt + 60);
  const certDir = opt + 112 + 4 * 8;
  if (stub.readUInt32LE(certDir + 4) !== 0) throw new PeError('BadCertificateTable', 'UKI stub is signed; sign the assembled UKI instead');
  const table = opt + optSize;
  const additions: [string, Buffer][] = [['.osrel', s.osrel], ['.cmdline', s.cmdline]];
  if (s.uname) additions.push(['.uname', s.uname]);
  additions.push(['.initrd', s.initrd], ['.linux', s.linux]);

  let fileEnd = 0;
  let vaEnd = 0;
  for (let i = 0; i < nSections; i++) {
    const h = table + i * SECTION_HEADER_SIZE;
    const name = stub.subarray(h, h + 8).toString('latin1').replace(/\0+$/, '');
    if (additions.some(([n]) => n === name)) throw new PeError('BadSection', `UKI stub already has a ${name} section`);
    vaEnd = Math.max(vaEnd, stub.readUInt32LE(h + 12) + Math.max(stub.readUInt32LE(h + 8), stub.readUInt32LE(h + 16)));
    fileEnd = Math.max(fileEnd, stub.readUInt32LE(h + 20) + stub.readUInt32LE(h + 16));
  }
  if (table + (nSections + additions.length) * SECTION_HEADER_SIZE > sizeOfHeaders)
    throw new PeError('BadSection', 'UKI stub: no room in the headers for the added section headers');
  const head = Buffer.from(stub.subarray(0, fileEnd));
  const body: Buffer[] = [head];
  let offset = alignUp(fileEnd, fileAlign);
  if (offset > fileEnd) body.push(Buffer.alloc(offset - fileEnd));
  let va = alignUp(vaEnd, sectionAlign);
  let initData = stub.readUInt32LE(opt + 8);
  additions.forEach(([name, data], i) => {
    const h = table + (nSections + i) * SECTION_HEADER_SIZE;
    const raw = alignUp(data.length, fileAlign);
    head.fill(0, h, h + SECTION_HEADER_SIZE);
    head.write(name, h, 8, 'latin1');
    head.writeUInt32LE(data.length, h + 8);
    head.writeUInt32LE(va, h + 12);
    head.writeUInt32LE(raw, h + 16);
    head.writeUInt32LE(offset, h + 20);
    head.writeUInt32LE(IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ, h + 36);
    body.push(data, Buffer.alloc(raw - data.length));
    offset += raw;
    initData += raw;
    va = alignUp(va + data.length, sectionAlign);
  });
  head.writeUInt16LE(nSections + additions.length, coff + 2);
  head.writeUInt32LE(initData >>> 0, opt + 8);
  head.writeUInt32LE(va, opt + 56); // SizeOfImage
  head.writeUInt32LE(0, opt + 64); // CheckSum (not used by UEFI; excluded from Authenticode anyway)
  return Buffer.concat(body);
}
