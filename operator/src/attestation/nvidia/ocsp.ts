// OCSP (RFC 6960) as NVIDIA's responder speaks it: SHA-384 CertIDs, a nonce extension, ECDSA-signed
// basic responses. Pure: request bytes out, response bytes + expectations + time in, a status out.
import { createHash, verify as verifySignature } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { bytesEqual } from './bytes.ts';
import { NvidiaError } from './errors.ts';
import { parseCertificateDer, verifyChain, type ChainKind, type ParsedCert } from './x509-chain.ts';

const SHA384_OID = '2.16.840.1.101.3.4.2.2';
const NONCE_OID = '1.3.6.1.5.5.7.48.1.2';
const BASIC_RESPONSE_OID = '1.3.6.1.5.5.7.48.1.1';
const OCSP_SIGNING_EKU = '1.3.6.1.5.5.7.3.9';
const EKU_OID = '2.5.29.37';
const CLOCK_SKEW_MS = 5 * 60_000;
/** Validity assumed when a response has no nextUpdate. */
const DEFAULT_VALIDITY_MS = 24 * 3600_000;
const SIGNATURE_HASH: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
};

export interface CertId {
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  serial: Uint8Array;
}

export type OcspCertStatus = 'good' | 'revoked' | 'unknown';

export interface OcspVerdict {
  status: OcspCertStatus;
  thisUpdate: Date;
  /** nextUpdate, or thisUpdate + 24 h when the responder gives none: the cache lifetime. */
  validUntil: Date;
  revokedAt?: Date;
  /** CRLReason code when revoked (6 = certificateHold). */
  reason?: number;
}

const invalid = (why: string): NvidiaError => new NvidiaError('OcspResponseInvalid', `OCSP response: ${why}`);

function sha384(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha384').update(data).digest());
}

/** The issuer's DER subject name exactly as encoded in its certificate. */
function subjectDer(cert: ParsedCert): Uint8Array {
  const parsed = asn1js.fromBER(cert.der);
  const tbs = (parsed.result as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence;
  const fields = tbs.valueBlock.value;
  const offset = fields[0]?.idBlock.tagClass === 3 ? 1 : 0; // [0] version present
  const subject = fields[offset + 4];
  if (!subject) throw invalid('cannot locate the issuer subject');
  return subject.valueBeforeDecodeView;
}

export function certIdFor(cert: ParsedCert, issuer: ParsedCert): CertId {
  return {
    issuerNameHash: sha384(subjectDer(issuer)),
    issuerKeyHash: sha384(issuer.decoded.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
    serial: new Uint8Array(cert.decoded.serialNumber.valueBlock.valueHexView),
  };
}

export function certIdKey(id: CertId): string {
  return [id.issuerNameHash, id.issuerKeyHash, id.serial].map((b) => Buffer.from(b).toString('hex')).join(':');
}

/** DER OCSPRequest for one certificate with a SHA-384 CertID and a nonce extension. */
export function buildOcspRequest(id: CertId, nonce: Uint8Array): Uint8Array {
  const request = new pkijs.OCSPRequest();
  request.tbsRequest.requestList = [
    new pkijs.Request({
      reqCert: new pkijs.CertID({
        hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: SHA384_OID, algorithmParams: new asn1js.Null() }),
        issuerNameHash: new asn1js.OctetString({ valueHex: id.issuerNameHash }),
        issuerKeyHash: new asn1js.OctetString({ valueHex: id.issuerKeyHash }),
        serialNumber: new asn1js.Integer({ valueHex: id.serial }),
      }),
    }),
  ];
  request.tbsRequest.requestExtensions = [
    new pkijs.Extension({ extnID: NONCE_OID, critical: false, extnValue: new asn1js.OctetString({ valueHex: nonce }).toBER() }),
  ];
  return new Uint8Array(request.toSchema(true).toBER());
}

function sameCertId(a: pkijs.CertID, id: CertId): boolean {
  return (
    a.hashAlgorithm.algorithmId === SHA384_OID &&
    bytesEqual(a.issuerNameHash.valueBlock.valueHexView, id.issuerNameHash) &&
    bytesEqual(a.issuerKeyHash.valueBlock.valueHexView, id.issuerKeyHash) &&
    bytesEqual(a.serialNumber.valueBlock.valueHexView, id.serial)
  );
}

function hasOcspSigningEku(cert: ParsedCert): boolean {
  const ext = (cert.decoded.extensions ?? []).find((e) => e.extnID === EKU_OID);
  const eku = ext?.parsedValue as pkijs.ExtKeyUsage | undefined;
  return !!eku?.keyPurposes.includes(OCSP_SIGNING_EKU);
}

/**
 * Authorized responder: the issuing CA itself, or a certificate with id-kp-OCSPSigning that is either
 * issued by that CA (RFC 6960 §4.2.2.2) or chains to the same pinned root (NVIDIA's responder, as nvtrust checks).
 */
function authorizeResponder(signer: ParsedCert, pool: ParsedCert[], issuer: ParsedCert, root: ParsedCert, at: Date, kind: ChainKind): void {
  if (bytesEqual(signer.der, issuer.der)) return;
  if (!hasOcspSigningEku(signer)) throw invalid(`responder '${signer.name}' lacks the OCSPSigning extended key usage`);
  const path = [signer];
  while (path.length < 6) {
    const last = path[path.length - 1] as ParsedCert;
    if (last.node.checkIssued(root.node)) break;
    const next = [...pool, issuer].find((c) => c !== last && last.node.checkIssued(c.node) && !path.includes(c));
    if (!next) break;
    path.push(next);
  }
  try {
    verifyChain(path, root, at, kind);
  } catch (err) {
    throw invalid(`responder certificate '${signer.name}' is not trusted (${err instanceof Error ? err.message : 'chain error'})`);
  }
}

function statusOf(single: pkijs.SingleResponse): Pick<OcspVerdict, 'status' | 'revokedAt' | 'reason'> {
  const s = single.certStatus as asn1js.BaseBlock;
  if (s.idBlock.tagClass !== 3) throw invalid('certStatus is not a context-tagged choice');
  if (s.idBlock.tagNumber === 0) return { status: 'good' };
  if (s.idBlock.tagNumber === 2) return { status: 'unknown' };
  if (s.idBlock.tagNumber !== 1) throw invalid(`certStatus tag ${s.idBlock.tagNumber} is unknown`);
  const parts = (s as asn1js.Constructed).valueBlock.value ?? [];
  const time = parts[0] as asn1js.GeneralizedTime | undefined;
  const reasonTag = parts[1] as asn1js.Constructed | undefined;
  const reasonEnum = reasonTag?.valueBlock.value?.[0] as asn1js.Enumerated | undefined;
  return {
    status: 'revoked',
    ...(time instanceof asn1js.GeneralizedTime ? { revokedAt: time.toDate() } : {}),
    ...(reasonEnum instanceof asn1js.Enumerated ? { reason: reasonEnum.valueBlock.valueDec } : {}),
  };
}

export interface OcspExpectation {
  id: CertId;
  /** The nonce sent; omit only for responses served from a verified cache. */
  nonce: Uint8Array;
  issuer: ParsedCert;
  root: ParsedCert;
  kind: ChainKind;
  at: Date;
}

/** Verifies a DER OCSPResponse for exactly the expected certificate. Throws OcspResponseInvalid. */
export function verifyOcspResponse(der: Uint8Array, exp: OcspExpectation): OcspVerdict {
  let basic: pkijs.BasicOCSPResponse;
  try {
    const response = pkijs.OCSPResponse.fromBER(der);
    const status = response.responseStatus.valueBlock.valueDec;
    if (status !== 0) throw invalid(`responder status ${status} (not successful)`);
    if (!response.responseBytes || response.responseBytes.responseType !== BASIC_RESPONSE_OID) throw invalid('not a basic OCSP response');
    basic = pkijs.BasicOCSPResponse.fromBER(response.responseBytes.response.valueBlock.valueHexView);
  } catch (err) {
    if (err instanceof NvidiaError) throw err;
    throw invalid('not a DER OCSPResponse');
  }
  const hash = SIGNATURE_HASH[basic.signatureAlgorithm.algorithmId];
  if (!hash) throw invalid(`signature algorithm ${basic.signatureAlgorithm.algorithmId} is not supported`);
  const tbs = basic.tbsResponseData.tbsView;
  const sig = basic.signature.valueBlock.valueHexView;
  const pool: ParsedCert[] = [];
  for (const c of basic.certs ?? []) {
    try {
      pool.push(parseCertificateDer(new Uint8Array(c.toSchema().toBER()), 'OCSP responder certificate'));
    } catch {
      throw invalid('embedded responder certificate does not parse');
    }
  }
  const signer = [exp.issuer, ...pool].find((c) => {
    try {
      return verifySignature(hash, tbs, c.publicKey, sig);
    } catch {
      return false;
    }
  });
  if (!signer) throw invalid('signature does not verify with the issuer or any embedded responder certificate');
  authorizeResponder(signer, pool, exp.issuer, exp.root, exp.at, exp.kind);

  const nonceExt = (basic.tbsResponseData.responseExtensions ?? []).find((e) => e.extnID === NONCE_OID);
  if (!nonceExt) throw invalid('the nonce extension is missing');
  const got = nonceExt.extnValue.valueBlock.valueHexView;
  const wrapped = new Uint8Array(new asn1js.OctetString({ valueHex: exp.nonce }).toBER());
  if (!bytesEqual(got, wrapped) && !bytesEqual(got, exp.nonce)) throw invalid('nonce does not match the request (replayed response?)');

  const single = basic.tbsResponseData.responses.find((r) => sameCertId(r.certID, exp.id));
  if (!single) throw invalid('no SingleResponse for the requested SHA-384 CertID');
  const thisUpdate = single.thisUpdate;
  const validUntil = single.nextUpdate ?? new Date(thisUpdate.getTime() + DEFAULT_VALIDITY_MS);
  if (thisUpdate.getTime() > exp.at.getTime() + CLOCK_SKEW_MS) throw invalid(`thisUpdate ${thisUpdate.toISOString()} is in the future`);
  if (validUntil.getTime() < exp.at.getTime() - CLOCK_SKEW_MS) throw invalid(`response expired at ${validUntil.toISOString()}`);
  return { ...statusOf(single), thisUpdate, validUntil };
}
