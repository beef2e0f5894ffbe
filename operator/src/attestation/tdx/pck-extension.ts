// The Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK leaf certificate: FMSPC, PCE-ID and the
// platform TCB (16 SGX component SVNs, PCESVN, CPUSVN) that TCB level selection compares against.
// Read with the strict DER reader (no generic ASN.1 object model: this runs on every cold verification).
import type { Cert } from './x509.ts';
import { TdxError } from './errors.ts';
import { children, oidText, readOnly } from './der.ts';
import type { Tlv } from './der.ts';

const SGX_EXTENSION = '1.2.840.113741.1.13.1';
const SEQUENCE = 0x30;
const INTEGER = 0x02;
const ENUMERATED = 0x0a;
const OCTET_STRING = 0x04;
const OID = 0x06;

export interface PckExtension {
  ppid: Uint8Array;
  /** 16 SGX TCB component SVNs (sgxtcbcomp01svn..16). */
  tcbComponents: number[];
  pceSvn: number;
  cpuSvn: Uint8Array;
  pceId: Uint8Array;
  fmspc: Uint8Array;
  sgxType: number;
}

function fail(detail: string): never {
  throw new TdxError('PckExtensionMalformed', `PCK certificate SGX extension: ${detail}`);
}

/** SEQUENCE OF SEQUENCE { OID, value } as a map by dotted OID. */
function pairs(seq: Tlv | undefined, where: string): Map<string, Tlv> {
  if (seq?.tag !== SEQUENCE) fail(`${where} is not a SEQUENCE`);
  const out = new Map<string, Tlv>();
  for (const item of children(seq)) {
    const parts = item.tag === SEQUENCE ? children(item) : [];
    if (parts.length !== 2) fail(`${where} entry is not an (OID, value) pair`);
    const [oid, value] = parts as [Tlv, Tlv];
    if (oid.tag !== OID) fail(`${where} entry has no OID`);
    const key = oidText(oid.value);
    if (out.has(key)) fail(`${where} repeats ${key}`);
    out.set(key, value);
  }
  return out;
}

function octets(map: Map<string, Tlv>, oid: string, len: number, name: string): Uint8Array {
  const v = map.get(oid);
  if (v?.tag !== OCTET_STRING || v.value.length !== len) fail(`${name} (${oid}) is missing or not ${len} bytes`);
  return new Uint8Array(v.value);
}

function smallInt(map: Map<string, Tlv>, oid: string, name: string, max: number): number {
  const v = map.get(oid);
  if ((v?.tag !== INTEGER && v?.tag !== ENUMERATED) || v.value.length === 0) fail(`${name} (${oid}) is missing or not an INTEGER`);
  // Two's complement, big-endian: a set top bit is negative; more than 4 content bytes is out of any range here.
  if (((v.value[0] ?? 0) & 0x80) !== 0 || v.value.length > 4) fail(`${name} (${oid}) is out of range`);
  let n = 0;
  for (const b of v.value) n = n * 256 + b;
  if (n > max) fail(`${name} (${oid}) is out of range`);
  return n;
}

export function parsePckExtension(cert: Cert): PckExtension {
  try {
    const raw = cert.extensions.get(SGX_EXTENSION);
    if (!raw) fail('extension is absent');
    const top = pairs(readOnly(raw), 'extension');
    const tcb = top.get(`${SGX_EXTENSION}.2`);
    if (!tcb) fail('TCB (.2) is absent');
    const tcbMap = pairs(tcb, 'TCB');
    const tcbComponents: number[] = [];
    for (let i = 1; i <= 16; i++) tcbComponents.push(smallInt(tcbMap, `${SGX_EXTENSION}.2.${i}`, `sgxtcbcomp${i}svn`, 255));
    return {
      ppid: octets(top, `${SGX_EXTENSION}.1`, 16, 'PPID'),
      tcbComponents,
      pceSvn: smallInt(tcbMap, `${SGX_EXTENSION}.2.17`, 'PCESVN', 65535),
      cpuSvn: octets(tcbMap, `${SGX_EXTENSION}.2.18`, 16, 'CPUSVN'),
      pceId: octets(top, `${SGX_EXTENSION}.3`, 2, 'PCE-ID'),
      fmspc: octets(top, `${SGX_EXTENSION}.4`, 6, 'FMSPC'),
      sgxType: smallInt(top, `${SGX_EXTENSION}.5`, 'SGX type', 255),
    };
  } catch (err) {
    if (err instanceof TdxError) throw err;
    fail(err instanceof Error ? err.message : String(err));
  }
}
