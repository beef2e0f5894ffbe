// The Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK leaf certificate: FMSPC, PCE-ID and the
// platform TCB (16 SGX component SVNs, PCESVN, CPUSVN) that TCB level selection compares against.
import * as asn1js from 'asn1js';
import type { Cert } from './x509.ts';
import { TdxError } from './errors.ts';

const SGX_EXTENSION = '1.2.840.113741.1.13.1';

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

function pairs(seq: asn1js.AsnType, where: string): Map<string, asn1js.AsnType> {
  if (!(seq instanceof asn1js.Sequence)) fail(`${where} is not a SEQUENCE`);
  const out = new Map<string, asn1js.AsnType>();
  for (const item of seq.valueBlock.value) {
    if (!(item instanceof asn1js.Sequence) || item.valueBlock.value.length !== 2) fail(`${where} entry is not an (OID, value) pair`);
    const [oid, value] = item.valueBlock.value;
    if (!(oid instanceof asn1js.ObjectIdentifier) || !value) fail(`${where} entry has no OID`);
    const key = oid.valueBlock.toString();
    if (out.has(key)) fail(`${where} repeats ${key}`);
    out.set(key, value);
  }
  return out;
}

function octets(map: Map<string, asn1js.AsnType>, oid: string, len: number, name: string): Uint8Array {
  const v = map.get(oid);
  if (!(v instanceof asn1js.OctetString) || v.valueBlock.valueHexView.length !== len) fail(`${name} (${oid}) is missing or not ${len} bytes`);
  return new Uint8Array(v.valueBlock.valueHexView);
}

function smallInt(map: Map<string, asn1js.AsnType>, oid: string, name: string, max: number): number {
  const v = map.get(oid);
  if (!(v instanceof asn1js.Integer) && !(v instanceof asn1js.Enumerated)) fail(`${name} (${oid}) is missing or not an INTEGER`);
  const n = v.valueBlock.valueDec;
  if (!Number.isInteger(n) || n < 0 || n > max) fail(`${name} (${oid}) is out of range`);
  return n;
}

export function parsePckExtension(cert: Cert): PckExtension {
  try {
    const raw = cert.extensions.get(SGX_EXTENSION);
    if (!raw) fail('extension is absent');
    const asn = asn1js.fromBER(raw);
    if (asn.offset !== raw.length) fail('extension value is not a single DER element');
    const top = pairs(asn.result, 'extension');
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
