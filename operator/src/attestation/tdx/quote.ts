// TDX DCAP quote parser (v4, v5 with TD 1.0 / TD 1.5 bodies). Layout per Intel's DCAP quote format
// (little-endian). Every field is bounds-checked; bytes after the signature data are counted, never used.
import { ByteReader } from './bytes.ts';
import { TdxError, asTdxError } from './errors.ts';

export const TEE_TYPE_TDX = 0x81;
export const ATT_KEY_TYPE_ECDSA_P256 = 2;
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
const TD_REPORT_10_SIZE = 584;
const TD_REPORT_15_SIZE = 648;
const ENCLAVE_REPORT_SIZE = 384;
const CERT_TYPE_QE_REPORT = 6;
const CERT_TYPE_PCK_CHAIN = 5;

export interface QuoteHeader {
  version: number;
  attKeyType: number;
  teeType: number;
  qeSvn: number;
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

export interface TdReport {
  /** 2 = TD 1.0 (584 bytes), 3 = TD 1.5 (648 bytes); v4 quotes always carry TD 1.0. */
  bodyType: 2 | 3;
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmrs: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
  /** TD 1.5 only. */
  teeTcbSvn2?: Uint8Array;
  /** TD 1.5 only. */
  mrServiceTd?: Uint8Array;
}

/** SGX enclave report of the Quoting Enclave. */
export interface EnclaveReport {
  raw: Uint8Array;
  cpuSvn: Uint8Array;
  miscSelect: number;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  reportData: Uint8Array;
}

export interface TdxQuote {
  header: QuoteHeader;
  body: TdReport;
  /** header ‖ [v5 body descriptor] ‖ body: the bytes the attestation key signs. */
  signedRegion: Uint8Array;
  signature: Uint8Array;
  /** Raw x‖y of the P-256 attestation key. */
  attestationKey: Uint8Array;
  qeReport: EnclaveReport;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** PEM text of the PCK chain (leaf, intermediate, root) from certification data type 5. */
  pckChainPem: string;
  /** Bytes after the end of the signature data; reported, never trusted. */
  trailingBytes: number;
}

function parseHeader(r: ByteReader): QuoteHeader {
  const version = r.u16('header.version');
  if (version !== 4 && version !== 5) {
    throw new TdxError('QuoteUnsupportedVersion', `quote header.version is ${version}; only TDX quote versions 4 and 5 are supported`);
  }
  const attKeyType = r.u16('header.att_key_type');
  if (attKeyType !== ATT_KEY_TYPE_ECDSA_P256) {
    throw new TdxError('QuoteUnsupportedKeyType', `quote header.att_key_type is ${attKeyType}; only 2 (ECDSA-256 with P-256) is supported`);
  }
  const teeType = r.u32('header.tee_type');
  if (teeType !== TEE_TYPE_TDX) {
    throw new TdxError('QuoteUnsupportedTeeType', `quote header.tee_type is 0x${teeType.toString(16)}; expected 0x81 (TDX)`);
  }
  const qeSvn = r.u16('header.qe_svn');
  const pceSvn = r.u16('header.pce_svn');
  const qeVendorId = r.bytes(16, 'header.qe_vendor_id');
  if (Buffer.from(qeVendorId).toString('hex') !== INTEL_QE_VENDOR_ID) {
    throw new TdxError('QuoteVendorMismatch', 'quote header.qe_vendor_id is not the Intel QE vendor ID');
  }
  const userData = r.bytes(20, 'header.user_data');
  return { version, attKeyType, teeType, qeSvn, pceSvn, qeVendorId, userData };
}

function parseTdReport(r: ByteReader, bodyType: 2 | 3): TdReport {
  const f = (n: number, name: string): Uint8Array => r.bytes(n, `td_report.${name}`);
  const body: TdReport = {
    bodyType,
    teeTcbSvn: f(16, 'tee_tcb_svn'),
    mrSeam: f(48, 'mr_seam'),
    mrSignerSeam: f(48, 'mr_signer_seam'),
    seamAttributes: f(8, 'seam_attributes'),
    tdAttributes: f(8, 'td_attributes'),
    xfam: f(8, 'xfam'),
    mrTd: f(48, 'mr_td'),
    mrConfigId: f(48, 'mr_config_id'),
    mrOwner: f(48, 'mr_owner'),
    mrOwnerConfig: f(48, 'mr_owner_config'),
    rtmrs: [f(48, 'rtmr0'), f(48, 'rtmr1'), f(48, 'rtmr2'), f(48, 'rtmr3')],
    reportData: f(64, 'report_data'),
  };
  if (bodyType === 3) {
    body.teeTcbSvn2 = f(16, 'tee_tcb_svn2');
    body.mrServiceTd = f(48, 'mr_servicetd');
  }
  return body;
}

export function parseEnclaveReport(raw: Uint8Array): EnclaveReport {
  const r = new ByteReader(raw, 'QE report', 'QuoteTruncated');
  const cpuSvn = r.bytes(16, 'qe_report.cpu_svn');
  const miscSelect = r.u32('qe_report.misc_select');
  r.bytes(28, 'qe_report.reserved1');
  const attributes = r.bytes(16, 'qe_report.attributes');
  const mrEnclave = r.bytes(32, 'qe_report.mr_enclave');
  r.bytes(32, 'qe_report.reserved2');
  const mrSigner = r.bytes(32, 'qe_report.mr_signer');
  r.bytes(96, 'qe_report.reserved3');
  const isvProdId = r.u16('qe_report.isv_prod_id');
  const isvSvn = r.u16('qe_report.isv_svn');
  r.bytes(60, 'qe_report.reserved4');
  const reportData = r.bytes(64, 'qe_report.report_data');
  return { raw, cpuSvn, miscSelect, attributes, mrEnclave, mrSigner, isvProdId, isvSvn, reportData };
}

/** Certification data type 6: QE report, its signature, QE auth data and the nested PCK chain (type 5). */
function parseQeCertificationData(data: Uint8Array) {
  const r = new ByteReader(data, 'QE certification data', 'QuoteTruncated');
  const qeReportRaw = r.bytes(ENCLAVE_REPORT_SIZE, 'qe_report');
  const qeReportSignature = r.bytes(64, 'qe_report_signature');
  const authLen = r.u16('qe_auth_data.size');
  const qeAuthData = r.bytes(authLen, 'qe_auth_data');
  const innerType = r.u16('pck_cert_data.type');
  const innerSize = r.u32('pck_cert_data.size');
  if (innerType !== CERT_TYPE_PCK_CHAIN) {
    throw new TdxError(
      'CertificationDataUnsupported',
      `quote certification data type is ${innerType}; only 5 (PCK certificate chain) is supported, other types need a PCK certificate fetch`,
    );
  }
  const chainBytes = r.bytes(innerSize, 'pck_cert_data.chain');
  if (r.remaining !== 0) {
    throw new TdxError('QuoteMalformed', `QE certification data has ${r.remaining} bytes after the PCK chain; sizes are inconsistent`);
  }
  const pckChainPem = new TextDecoder('utf-8', { fatal: true }).decode(chainBytes).replace(/\0+$/, '');
  return { qeReport: parseEnclaveReport(qeReportRaw), qeReportSignature, qeAuthData, pckChainPem };
}

function parse(bytes: Uint8Array): TdxQuote {
  const r = new ByteReader(bytes, 'quote', 'QuoteTruncated');
  const header = parseHeader(r);
  let bodyType: 2 | 3 = 2;
  if (header.version === 5) {
    const type = r.u16('body_descriptor.type');
    const size = r.u32('body_descriptor.size');
    if (type === 2 && size === TD_REPORT_10_SIZE) bodyType = 2;
    else if (type === 3 && size === TD_REPORT_15_SIZE) bodyType = 3;
    else {
      throw new TdxError(
        'QuoteUnsupportedBodyType',
        `quote v5 body descriptor is type ${type} size ${size}; expected TD report 1.0 (2, 584) or 1.5 (3, 648)`,
      );
    }
  }
  const body = parseTdReport(r, bodyType);
  const signedRegion = bytes.subarray(0, r.offset);
  const sigDataLen = r.u32('signature_data.size');
  const sigData = new ByteReader(r.bytes(sigDataLen, 'signature_data'), 'quote signature data', 'QuoteTruncated');
  const signature = sigData.bytes(64, 'signature_data.signature');
  const attestationKey = sigData.bytes(64, 'signature_data.attestation_key');
  const certType = sigData.u16('certification_data.type');
  const certSize = sigData.u32('certification_data.size');
  if (certType !== CERT_TYPE_QE_REPORT) {
    throw new TdxError('CertificationDataUnsupported', `quote certification data type is ${certType}; expected 6 (QE report certification data)`);
  }
  const certData = sigData.bytes(certSize, 'certification_data.body');
  if (sigData.remaining !== 0) {
    throw new TdxError('QuoteMalformed', `quote signature data has ${sigData.remaining} bytes after the certification data; sizes are inconsistent`);
  }
  const qe = parseQeCertificationData(certData);
  return { header, body, signedRegion, signature, attestationKey, ...qe, trailingBytes: r.remaining };
}

/** Parses a TDX quote; throws only TdxError (codes QuoteTruncated, QuoteMalformed, QuoteUnsupported*, ...). */
export function parseTdxQuote(bytes: Uint8Array): TdxQuote {
  try {
    return parse(bytes);
  } catch (err) {
    throw asTdxError(err, 'QuoteMalformed', 'quote could not be parsed');
  }
}
