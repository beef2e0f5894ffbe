// Pure checks on one GPU's signed report: parse, SPDM signature, nonce binding, FWID and the SDK's claimed
// versions (the device chain is verified through VerificationCache). Bytes in; facts or a typed error out.
import { verifyRawEcdsa } from '../../protocol/ecdsa-signature.ts';
import { bytesEqual, toHex } from './bytes.ts';
import { NvidiaError, asNvidiaError } from './errors.ts';
import type { GpuEvidenceItem } from './evidence.ts';
import { leafFwids } from './fwid.ts';
import { decodeOpaque, type GpuOpaqueInfo } from './opaque.ts';
import { parseSpdmEvidence, type SpdmMeasurementsEvidence } from './spdm.ts';
import { parsePemChain, type ParsedCert } from './x509-chain.ts';

export interface ParsedGpuReport {
  item: GpuEvidenceItem;
  spdm: SpdmMeasurementsEvidence;
  info: GpuOpaqueInfo;
  chain: ParsedCert[];
}

/** Structural parse of one evidence entry; every failure is a typed NvidiaError. */
export function parseGpuReport(
  item: GpuEvidenceItem,
  parseChain: (pem: string) => ParsedCert[] = (pem) => parsePemChain(pem, 'device certificate chain'),
): ParsedGpuReport {
  try {
    const spdm = parseSpdmEvidence(item.report);
    const info = decodeOpaque(spdm.response.opaque);
    const chain = parseChain(item.certChainPem);
    return { item, spdm, info, chain };
  } catch (err) {
    throw asNvidiaError(err, 'SpdmMalformed', 'GPU report');
  }
}

/** ECDSA P-384 / SHA-384, raw r‖s, over request ‖ response-without-signature, with the leaf key. */
export function verifyReportSignature(report: ParsedGpuReport): void {
  const leaf = report.chain[0] as ParsedCert;
  let ok: boolean;
  try {
    ok = verifyRawEcdsa('sha384', report.spdm.signedBytes, leaf.publicKey, report.spdm.response.signature, 48);
  } catch {
    ok = false;
  }
  if (!ok) throw new NvidiaError('ReportSignatureInvalid', `SPDM report signature does not verify with the key of leaf certificate '${leaf.name}'`);
}

/** The KBS binding: the SPDM request nonce equals the first 32 bytes of the expected report data. */
export function checkNonce(report: ParsedGpuReport, expected: Uint8Array): void {
  if (expected.length < 32) throw new NvidiaError('NonceMismatch', `expected nonce is ${expected.length} bytes; at least 32 are needed`);
  const want = expected.subarray(0, 32);
  if (!bytesEqual(report.spdm.request.nonce, want)) {
    throw new NvidiaError('NonceMismatch', `SPDM request nonce ${toHex(report.spdm.request.nonce)} is not the expected ${toHex(want)}`);
  }
}

/** When the report carries an FWID, the leaf's DICE extension must list the same FWID. */
export function checkFwid(report: ParsedGpuReport): void {
  const fwid = report.info.fwid;
  if (!fwid) return;
  const leafIds = leafFwids(report.chain[0] as ParsedCert);
  if (!leafIds || leafIds.length === 0) {
    throw new NvidiaError('FwidMismatch', 'report carries an FWID but the leaf certificate has no DICE FWID extension');
  }
  if (!leafIds.some((id) => bytesEqual(id, fwid))) {
    throw new NvidiaError('FwidMismatch', `report FWID ${toHex(fwid)} differs from the leaf certificate FWID ${toHex(leafIds[0] as Uint8Array)}`);
  }
}

/** SDK evidence states versions next to the report; they must be the signed ones. */
export function checkClaimedVersions(report: ParsedGpuReport): void {
  const { driverVersion, vbiosVersion } = report.item;
  if (driverVersion !== undefined && driverVersion !== report.info.driverVersion) {
    throw new NvidiaError('ReportVersionMismatch', `evidence says driver ${driverVersion} but the signed report says ${report.info.driverVersion}`);
  }
  if (vbiosVersion !== undefined && vbiosVersion.toUpperCase() !== report.info.vbiosVersion) {
    throw new NvidiaError('ReportVersionMismatch', `evidence says VBIOS ${vbiosVersion} but the signed report says ${report.info.vbiosVersion}`);
  }
}
