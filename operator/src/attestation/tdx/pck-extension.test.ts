// The SGX extension of a PCK leaf: the captured extension of a real Intel PCK certificate is read as is, then
// rebuilt with one entry changed per case, so each refusal names the field and the check that failed.
import { describe, expect, it } from 'vitest';
import { parsePckExtension } from './pck-extension.ts';
import { parseTdxQuote } from './quote.ts';
import { parsePemChain } from './x509.ts';
import type { Cert } from './x509.ts';
import { readFixture } from '../../../test/fixtures/tdx/fixtures.ts';
import { bytes, int, octets, oid, parts, seq, set, tlv } from '../../../test/support/der-build.ts';
import { tdxFailureText } from '../../../test/support/tdx-failure.ts';

const X = '1.2.840.113741.1.13.1';
const leaf = parsePemChain(parseTdxQuote(readFixture('v4-b0c06f000000-phala', 'quote.bin')).pckChainPem, 'PCK chain')[0] as Cert;
const realExtension = leaf.extensions.get(X) as Uint8Array;

/** The OID of one (OID, value) entry. */
const entryOid = (entry: Uint8Array) => parts(entry)[0];
const isEntry = (entry: Uint8Array, dotted: string) => Buffer.from(entryOid(entry) ?? []).equals(oid(dotted));
type Edit = (entries: Uint8Array[]) => Uint8Array[];
const replace = (dotted: string, value: Uint8Array): Edit => (entries) => entries.map((e) => (isEntry(e, dotted) ? seq(oid(dotted), value) : e));
const drop = (dotted: string): Edit => (entries) => entries.filter((e) => !isEntry(e, dotted));

/** The real extension with its top-level entries and its TCB entries edited. */
function extension(o: { top?: Edit; tcb?: Edit } = {}): Uint8Array {
  const top = parts(realExtension).map((e) => {
    if (!isEntry(e, `${X}.2`)) return e;
    const tcbEntries = parts(parts(e)[1] as Uint8Array);
    return seq(oid(`${X}.2`), seq(...(o.tcb ?? ((x) => x))(tcbEntries)));
  });
  return seq(...(o.top ?? ((x) => x))(top));
}
const withExtension = (value: Uint8Array | undefined): Cert => {
  const extensions = new Map(leaf.extensions);
  if (value) extensions.set(X, value);
  else extensions.delete(X);
  return { ...leaf, extensions };
};
const failure = (value: Uint8Array | undefined) => tdxFailureText(() => parsePckExtension(withExtension(value)));
const refused = (detail: string) => `PckExtensionMalformed: PCK certificate SGX extension: ${detail}`;

describe('parsePckExtension', () => {
  it('reads the captured PCK certificate, and the same extension rebuilt entry by entry', () => {
    const real = parsePckExtension(leaf);
    expect(Buffer.from(real.fmspc).toString('hex')).toBe('b0c06f000000');
    expect([Buffer.from(real.pceId).toString('hex'), real.ppid.length, real.cpuSvn.length, real.tcbComponents.length]).toEqual(['0000', 16, 16, 16]);
    expect(parsePckExtension(withExtension(extension()))).toEqual(real);
  });

  it('reads multi-byte INTEGERs big-endian and tolerates leading zero bytes up to 4 content bytes', () => {
    const ext = parsePckExtension(withExtension(extension({ tcb: replace(`${X}.2.17`, int(0x0102)) })));
    expect(ext.pceSvn).toBe(258);
    const padded = parsePckExtension(withExtension(extension({ tcb: replace(`${X}.2.3`, tlv(0x02, bytes('00000005'))) })));
    expect(padded.tcbComponents[2]).toBe(5);
    expect(parsePckExtension(withExtension(extension({ top: replace(`${X}.5`, tlv(0x0a, bytes('01'))) }))).sgxType).toBe(1);
    expect(parsePckExtension(withExtension(extension({ top: replace(`${X}.5`, int(1)) }))).sgxType).toBe(1);
  });

  it('refuses a missing extension or TCB, and a structure that is not SEQUENCEs of (OID, value) pairs', () => {
    expect(failure(undefined)).toBe(refused('extension is absent'));
    expect(failure(extension({ top: drop(`${X}.2`) }))).toBe(refused('TCB (.2) is absent'));
    expect(failure(octets([1, 2]))).toBe(refused('extension is not a SEQUENCE'));
    expect(failure(extension({ top: replace(`${X}.2`, octets([1])) }))).toBe(refused('TCB is not a SEQUENCE'));
    // A SET holding an (OID, value) pair is not a SEQUENCE entry.
    expect(failure(extension({ top: (e) => [...e, set(oid(`${X}.9`), int(1))] }))).toBe(refused('extension entry is not an (OID, value) pair'));
    expect(failure(extension({ top: (e) => [...e, seq(oid(`${X}.9`), int(1), int(2))] }))).toBe(refused('extension entry is not an (OID, value) pair'));
    expect(failure(extension({ tcb: (e) => [...e, seq(oid(`${X}.2.19`))] }))).toBe(refused('TCB entry is not an (OID, value) pair'));
    expect(failure(extension({ top: (e) => [...e, seq(int(9), int(1))] }))).toBe(refused('extension entry has no OID'));
    expect(failure(extension({ tcb: (e) => [...e, e[0] as Uint8Array] }))).toBe(refused(`TCB repeats ${X}.2.1`));
  });

  it('refuses octet strings of the wrong length or type, naming each field', () => {
    expect(failure(extension({ top: replace(`${X}.1`, octets(new Array<number>(15).fill(1))) }))).toBe(refused(`PPID (${X}.1) is missing or not 16 bytes`));
    expect(failure(extension({ tcb: replace(`${X}.2.18`, octets(new Array<number>(17).fill(1))) }))).toBe(refused(`CPUSVN (${X}.2.18) is missing or not 16 bytes`));
    expect(failure(extension({ top: replace(`${X}.3`, int(0)) }))).toBe(refused(`PCE-ID (${X}.3) is missing or not 2 bytes`));
    expect(failure(extension({ top: drop(`${X}.4`) }))).toBe(refused(`FMSPC (${X}.4) is missing or not 6 bytes`));
  });

  it('refuses missing, empty, negative, over-long and out-of-range INTEGERs, naming each field', () => {
    expect(failure(extension({ tcb: drop(`${X}.2.5`) }))).toBe(refused(`sgxtcbcomp5svn (${X}.2.5) is missing or not an INTEGER`));
    expect(failure(extension({ tcb: replace(`${X}.2.5`, octets([1])) }))).toBe(refused(`sgxtcbcomp5svn (${X}.2.5) is missing or not an INTEGER`));
    expect(failure(extension({ tcb: replace(`${X}.2.5`, tlv(0x02)) }))).toBe(refused(`sgxtcbcomp5svn (${X}.2.5) is missing or not an INTEGER`));
    expect(failure(extension({ tcb: replace(`${X}.2.5`, tlv(0x02, bytes('80'))) }))).toBe(refused(`sgxtcbcomp5svn (${X}.2.5) is out of range`));
    expect(failure(extension({ tcb: replace(`${X}.2.5`, tlv(0x02, bytes('0000000001'))) }))).toBe(refused(`sgxtcbcomp5svn (${X}.2.5) is out of range`));
    expect(failure(extension({ tcb: replace(`${X}.2.5`, int(256)) }))).toBe(refused(`sgxtcbcomp5svn (${X}.2.5) is out of range`));
    expect(failure(extension({ tcb: replace(`${X}.2.17`, int(65536)) }))).toBe(refused(`PCESVN (${X}.2.17) is out of range`));
    expect(failure(extension({ top: replace(`${X}.5`, int(256)) }))).toBe(refused(`SGX type (${X}.5) is out of range`));
  });

  it('turns a DER error inside the extension into the same code', () => {
    expect(failure(bytes('3002300a'))).toBe(refused('element runs past the end of its container'));
  });
});
