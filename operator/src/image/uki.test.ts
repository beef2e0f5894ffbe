import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { authenticodeDigest, parsePeLayout } from '../attestation/pe/authenticode.ts';
import { assembleUki } from './uki.ts';

// The systemd EFI stub from systemd-boot-efi (installed by hack/guest-image-deps.sh).
const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
const SIGNED = '/usr/lib/shim/shimx64.efi.signed';
const sections = { osrel: Buffer.from('ID=cai\n'), cmdline: Buffer.from('console=ttyS0\0'), uname: Buffer.from('6.1.0'), initrd: Buffer.alloc(5000, 1), linux: Buffer.alloc(9000, 2) };

function sectionTable(pe: Buffer): { name: string; va: number; vsize: number; raw: number; ptr: number }[] {
  const peOff = pe.readUInt32LE(0x3c);
  const n = pe.readUInt16LE(peOff + 6);
  const table = peOff + 24 + pe.readUInt16LE(peOff + 20);
  return Array.from({ length: n }, (_, i) => {
    const h = table + i * 40;
    return { name: pe.subarray(h, h + 8).toString('latin1').replace(/\0+$/, ''), vsize: pe.readUInt32LE(h + 8), va: pe.readUInt32LE(h + 12), raw: pe.readUInt32LE(h + 16), ptr: pe.readUInt32LE(h + 20) };
  });
}

describe('assembleUki', () => {
  it('appends .osrel .cmdline .uname .initrd .linux to the systemd stub, same bytes every time, contents in place', () => {
    expect(existsSync(STUB), `${STUB} missing: run hack/guest-image-deps.sh`).toBe(true);
    const stub = readFileSync(STUB);
    const uki = assembleUki(stub, sections);
    expect(uki.equals(assembleUki(stub, sections))).toBe(true);
    const table = sectionTable(uki);
    expect(table.slice(-5).map((s) => s.name)).toEqual(['.osrel', '.cmdline', '.uname', '.initrd', '.linux']);
    const linux = table.at(-1)!;
    expect(uki.subarray(linux.ptr, linux.ptr + linux.vsize).equals(sections.linux)).toBe(true);
    const cmd = table.find((s) => s.name === '.cmdline')!;
    expect(uki.subarray(cmd.ptr, cmd.ptr + cmd.vsize).toString()).toBe('console=ttyS0\0');
    // Sections do not overlap in memory, and SizeOfImage covers the last one.
    for (let i = 1; i < table.length; i++) expect(table[i]!.va).toBeGreaterThanOrEqual(table[i - 1]!.va + table[i - 1]!.vsize);
    const peOff = uki.readUInt32LE(0x3c);
    expect(uki.readUInt32LE(peOff + 24 + 56)).toBeGreaterThanOrEqual(linux.va + linux.vsize);
    expect(() => parsePeLayout(uki)).not.toThrow();
    // A changed command line changes the measured digest.
    const other = assembleUki(stub, { ...sections, cmdline: Buffer.from('console=ttyS1\0') });
    expect(authenticodeDigest(other)).not.toBe(authenticodeDigest(uki));
  });

  it('refuses a non-PE stub, a signed stub, and a stub that already has UKI sections', () => {
    expect(() => assembleUki(Buffer.alloc(256), sections)).toThrow(/no MZ header/);
    if (existsSync(SIGNED)) expect(() => assembleUki(readFileSync(SIGNED), sections)).toThrow(/signed/);
    const once = assembleUki(readFileSync(STUB), sections);
    expect(() => assembleUki(once, sections)).toThrow(/already has a \.osrel section/);
  });
});
