// Cross-check against real signed EFI binaries from Debian (installed by hack/system-deps.sh): the SHA-256
// Authenticode digest we compute must equal the digest the signer embedded in the binary's own signature.
// Missing binaries make these tests FAIL (run hack/system-deps.sh), never skip.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { authenticodeDigest, parsePeLayout, PeError } from './authenticode.ts';
import { embeddedAuthenticodeDigests } from './embedded-digest.ts';

const SIGNED = [
  '/usr/lib/shim/shimx64.efi.signed', // two signatures
  '/usr/lib/shim/mmx64.efi.signed',
  '/usr/lib/shim/fbx64.efi.signed',
  '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed',
];
const read = (path: string): Buffer => {
  if (!existsSync(path)) throw new Error(`${path} is missing: run hack/system-deps.sh (installs shim-signed, grub-efi-amd64-signed)`);
  return readFileSync(path);
};
const code = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return e instanceof PeError ? e.code : `unexpected ${String(e)}`;
  }
};

describe('Authenticode digest of real signed EFI binaries', () => {
  for (const path of SIGNED) {
    it(`matches the digest embedded in ${path}`, () => {
      const pe = read(path);
      const embedded = embeddedAuthenticodeDigests(pe);
      expect(embedded.length).toBeGreaterThan(0);
      for (const e of embedded) expect(authenticodeDigest(pe, e.algorithm)).toBe(e.digest);
      expect(authenticodeDigest(pe, 'sha384')).toMatch(/^[0-9a-f]{96}$/);
    });
  }

  it('changes when a byte inside a section changes, but not when the certificate table changes', () => {
    const pe = Buffer.from(read(SIGNED[1] as string));
    const before = authenticodeDigest(pe, 'sha384');
    const { sections, certTable } = parsePeLayout(pe);
    const s = sections[0]!;
    const tamperedSection = Buffer.from(pe);
    tamperedSection.writeUInt8(tamperedSection.readUInt8(s.pointerToRawData + 10) ^ 0xff, s.pointerToRawData + 10);
    expect(authenticodeDigest(tamperedSection, 'sha384')).not.toBe(before);
    const tamperedSig = Buffer.from(pe);
    tamperedSig.writeUInt8(tamperedSig.readUInt8(certTable.offset + certTable.size - 1) ^ 0xff, certTable.offset + certTable.size - 1);
    expect(authenticodeDigest(tamperedSig, 'sha384')).toBe(before);
    const tamperedChecksum = Buffer.from(pe);
    const ck = pe.readUInt32LE(0x3c) + 24 + 64; // CheckSum is excluded
    tamperedChecksum.writeUInt8(tamperedChecksum.readUInt8(ck) ^ 0xff, ck);
    expect(authenticodeDigest(tamperedChecksum, 'sha384')).toBe(before);
  });

  it('an unsigned image has a digest but no embedded signature', () => {
    const pe = read('/usr/lib/shim/shimx64.efi');
    expect(authenticodeDigest(pe, 'sha256')).toMatch(/^[0-9a-f]{64}$/);
    expect(code(() => embeddedAuthenticodeDigests(pe))).toBe('NoSignature');
  });
});

describe('PE parser rejects malformed input with a specific code', () => {
  const pe = (): Buffer => Buffer.from(read(SIGNED[2] as string));
  it('not a PE', () => {
    expect(code(() => authenticodeDigest(Buffer.from('hello world, definitely not a PE file at all!!!!!!!!!!!!!!!!!!!!!!!!')))).toBe('NotPe');
    expect(code(() => authenticodeDigest(Buffer.alloc(10)))).toBe('Truncated');
    const b = pe();
    b.writeUInt32LE(0x4550 + 1, b.readUInt32LE(0x3c));
    expect(code(() => authenticodeDigest(b))).toBe('NotPe');
  });
  it('truncated file, bad magic, bad section, bad certificate table, bad signature blob', () => {
    const b = pe();
    expect(code(() => authenticodeDigest(b.subarray(0, 300)))).toBe('Truncated');
    const magic = pe();
    magic.writeUInt16LE(0x999, magic.readUInt32LE(0x3c) + 24);
    expect(code(() => authenticodeDigest(magic))).toBe('BadOptionalHeader');
    const { sections, certTable, certDirOffset } = parsePeLayout(b);
    expect(code(() => authenticodeDigest(b.subarray(0, sections.at(-1)!.pointerToRawData + 4)))).toBe('BadSection');
    const cert = pe();
    cert.writeUInt32LE(cert.length, certDirOffset);
    expect(code(() => authenticodeDigest(cert))).toBe('BadCertificateTable');
    const blob = pe();
    blob.fill(0x30, certTable.offset + 8, certTable.offset + 40);
    expect(code(() => embeddedAuthenticodeDigests(blob))).toBe('BadSignature');
    const len = pe();
    len.writeUInt32LE(certTable.size + 64, certTable.offset);
    expect(code(() => embeddedAuthenticodeDigests(len))).toBe('BadCertificateTable');
  });
});
