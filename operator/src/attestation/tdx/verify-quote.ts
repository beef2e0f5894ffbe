// Full DCAP verification of a TDX quote at an injected time. Pure: quote bytes + collateral + pinned root +
// time in, verdict out. The optional memo holds verified collateral and PCK chains keyed by their bytes, so a
// warm verification costs the QE report and quote signature checks plus cheap comparisons.
import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { TdxError } from './errors.ts';
import type { TdxErrorCode } from './errors.ts';
import { bytesEqual, isAllZero, toHex } from './bytes.ts';
import { parseTdxQuote } from './quote.ts';
import type { TdxQuote } from './quote.ts';
import { checkWindow, createCertScope, parsePemChain } from './x509.ts';
import type { Cert, CertScope } from './x509.ts';
import { verifyCollateral, collateralExpiry } from './collateral.ts';
import type { TdxCollateral, VerifiedCollateral } from './collateral.ts';
import { verifyPckChain } from './pck.ts';
import type { VerifiedPck } from './pck.ts';
import { evaluateQeIdentity, evaluateTcb } from './tcb-evaluation.ts';
import type { TcbEvaluation } from './tcb-evaluation.ts';
import { collateralKey, remember } from './memo.ts';
import type { TdxVerificationMemo } from './memo.ts';
import { INTEL_SGX_ROOT_CA_PEM } from './intel-root-ca.ts';
import { verifyRawEcdsa } from '../../protocol/ecdsa-signature.ts';

export interface VerifyTdxQuoteInput {
  quote: Uint8Array;
  collateral: TdxCollateral;
  at: Date;
  /** Trust anchor; defaults to the pinned Intel SGX Root CA. */
  rootCaPem?: string;
  memo?: TdxVerificationMemo;
}

export interface TdxQuoteReport {
  quote: TdxQuote;
  pck: VerifiedPck;
  tcb: TcbEvaluation;
  tcbEvaluationDataNumber: number;
  /** Earliest expiry among the collateral items used. */
  collateralExpiresAt: Date;
  warnings: string[];
}

export interface TdxFailure {
  code: TdxErrorCode;
  message: string;
}

export type TdxQuoteVerdict = { ok: true; report: TdxQuoteReport } | { ok: false; failure: TdxFailure; quote?: TdxQuote };

// DER SubjectPublicKeyInfo prefix for an uncompressed P-256 point (id-ecPublicKey, prime256v1).
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

function attestationPublicKey(raw: Uint8Array, memo?: TdxVerificationMemo): KeyObject {
  const hex = memo ? toHex(raw) : '';
  const known = memo?.attestationKeys.get(hex);
  if (known) return known;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, Buffer.from([4]), raw]), format: 'der', type: 'spki' });
  } catch {
    throw new TdxError('QuoteSignatureInvalid', 'the quote attestation key is not a valid P-256 point');
  }
  if (memo) remember(memo, memo.attestationKeys, hex, key);
  return key;
}

function rootCert(pem: string, scope: CertScope, memo?: TdxVerificationMemo): Cert {
  const cached = memo?.roots.get(pem);
  if (cached) return cached;
  const [root, ...rest] = parsePemChain(pem, 'pinned root CA', scope);
  if (!root || rest.length > 0) throw new TdxError('CertificateMalformed', 'the pinned root CA must be exactly one certificate');
  memo?.roots.set(pem, root);
  return root;
}

function verifiedCollateral(c: TdxCollateral, root: Cert, scope: CertScope, memo?: TdxVerificationMemo): VerifiedCollateral {
  if (!memo) return verifyCollateral(c, root, scope);
  const key = `${collateralKey(memo, c)}/${root.serial}`;
  let v = memo.collateral.get(key);
  if (!v) {
    v = verifyCollateral(c, root, scope);
    remember(memo, memo.collateral, key, v);
  }
  return v;
}

function verifiedPck(pem: string, v: VerifiedCollateral, c: TdxCollateral, scope: CertScope, memo?: TdxVerificationMemo): VerifiedPck {
  if (!memo) return verifyPckChain(pem, v, scope);
  const ckey = collateralKey(memo, c);
  let perCollateral = memo.pckChains.get(ckey);
  if (!perCollateral) {
    perCollateral = new Map();
    remember(memo, memo.pckChains, ckey, perCollateral);
  }
  let p = perCollateral.get(pem);
  if (!p) {
    p = verifyPckChain(pem, v, scope);
    remember(memo, perCollateral, pem, p);
  }
  return p;
}

function checkQuote(quote: TdxQuote, input: VerifyTdxQuoteInput): TdxQuoteReport {
  // Per verification only: shares parsed certificates and checked signatures between this quote's chains.
  const scope = createCertScope();
  const root = rootCert(input.rootCaPem ?? INTEL_SGX_ROOT_CA_PEM, scope, input.memo);
  const collateral = verifiedCollateral(input.collateral, root, scope, input.memo);
  for (const w of collateral.windows) checkWindow(w, input.at);
  const pck = verifiedPck(quote.pckChainPem, collateral, input.collateral, scope, input.memo);
  for (const w of pck.windows) checkWindow(w, input.at);

  const qeSigOk = verifyRawEcdsa('sha256', quote.qeReport.raw, pck.leaf.publicKey, quote.qeReportSignature, 32);
  if (!qeSigOk) throw new TdxError('QeReportSignatureInvalid', 'the QE report signature does not verify with the PCK leaf key');
  const binding = createHash('sha256').update(quote.attestationKey).update(quote.qeAuthData).digest();
  const reportData = quote.qeReport.reportData;
  if (!bytesEqual(reportData.subarray(0, 32), binding) || !isAllZero(reportData.subarray(32))) {
    throw new TdxError('QeReportDataMismatch', 'QE report REPORTDATA is not SHA-256(attestation key ‖ QE auth data) followed by 32 zero bytes');
  }
  const qeLevel = evaluateQeIdentity(quote.qeReport, collateral.qeIdentity);
  const quoteSigOk = verifyRawEcdsa('sha256', quote.signedRegion, attestationPublicKey(quote.attestationKey, input.memo), quote.signature, 32);
  if (!quoteSigOk) throw new TdxError('QuoteSignatureInvalid', 'the quote signature over header and TD report does not verify with the attestation key');

  const tcb = evaluateTcb(quote.body, pck.extension, collateral.tcbInfo, qeLevel);
  if (tcb.status === 'Revoked') throw new TdxError('TcbRevoked', 'the platform TCB level (or the TDX module / QE level) is Revoked');
  if (((quote.body.tdAttributes[0] ?? 0) & 0x01) !== 0) throw new TdxError('TdDebug', 'TD attributes have the DEBUG bit set; debug TDs are never trusted');

  const warnings: string[] = [];
  if (tcb.tdRelaunchAdvised) warnings.push('TD relaunch advised: the TDX module this TD runs on is OutOfDate but an up-to-date module is loaded (TEE_TCB_SVN2)');
  if (quote.trailingBytes > 0) warnings.push(`quote has ${quote.trailingBytes} bytes after the signature data; they were ignored`);
  return {
    quote,
    pck,
    tcb,
    tcbEvaluationDataNumber: collateral.tcbInfo.tcbEvaluationDataNumber,
    collateralExpiresAt: collateralExpiry(collateral),
    warnings,
  };
}

/** Verifies a TDX quote; never throws (every failure is a verdict with a stable code). */
export function verifyTdxQuote(input: VerifyTdxQuoteInput): TdxQuoteVerdict {
  let quote: TdxQuote | undefined;
  try {
    quote = parseTdxQuote(input.quote);
    return { ok: true, report: checkQuote(quote, input) };
  } catch (err) {
    const failure: TdxFailure =
      err instanceof TdxError ? { code: err.code, message: err.message } : { code: 'QuoteMalformed', message: `unexpected verification error: ${String(err)}` };
    return quote ? { ok: false, failure, quote } : { ok: false, failure };
  }
}
