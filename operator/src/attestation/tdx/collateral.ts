// Signed DCAP collateral for one FMSPC, and its time-independent verification: Root CA CRL, TCB signing chain,
// TCB Info and QE Identity signatures over their exact bytes, PCK CRL issuer chain and PCK CRL. The validity
// windows of every item are returned so a cached result can be re-checked against any verification time.
import { TdxError } from './errors.ts';
import { bytesEqual } from './bytes.ts';
import type { TdxErrorCode } from './errors.ts';
import { checkChain, checkCrl, createCertScope, parseCrl, parsePemChain } from './x509.ts';
import type { Cert, CertScope, Crl, ValidityWindow } from './x509.ts';
import { extractSignedJson } from './signed-json.ts';
import { verifyRawEcdsa } from '../../protocol/ecdsa-signature.ts';
import { TdQeIdentitySchema, TdxTcbInfoSchema, firstIssue } from './collateral-schemas.ts';
import type { TdQeIdentity, TdxTcbInfo } from './collateral-schemas.ts';

/** Collateral exactly as the PCS/PCCS v4 API serves it (bodies and issuer-chain headers). */
export interface TdxCollateral {
  /** Body of GET /tdx/certification/v4/tcb?fmspc=…: `{"tcbInfo":{…},"signature":"…"}`. */
  tcbInfoBody: Uint8Array;
  /** `TCB-Info-Issuer-Chain` header, PEM (TCB signing cert, then root). */
  tcbInfoIssuerChain: string;
  /** Body of GET /tdx/certification/v4/qe/identity: `{"enclaveIdentity":{…},"signature":"…"}`. */
  qeIdentityBody: Uint8Array;
  /** `SGX-Enclave-Identity-Issuer-Chain` header, PEM. */
  qeIdentityIssuerChain: string;
  /** PCK CRL (DER) from GET /sgx/certification/v4/pckcrl?ca=platform|processor. */
  pckCrl: Uint8Array;
  /** `SGX-PCK-CRL-Issuer-Chain` header, PEM (PCK Platform/Processor CA, then root). */
  pckCrlIssuerChain: string;
  /** Intel SGX Root CA CRL (DER). */
  rootCaCrl: Uint8Array;
}

export interface VerifiedCollateral {
  tcbInfo: TdxTcbInfo;
  qeIdentity: TdQeIdentity;
  root: Cert;
  rootCaCrl: Crl;
  pckCrl: Crl;
  /** The CA (Platform or Processor) that issued the PCK CRL. */
  pckCrlIssuer: Cert;
  windows: ValidityWindow[];
}

function verifySignedJson(
  body: Uint8Array,
  member: 'tcbInfo' | 'enclaveIdentity',
  chainPem: string,
  root: Cert,
  rootCaCrl: Crl,
  codes: { malformed: TdxErrorCode; signature: TdxErrorCode },
  what: string,
  scope: CertScope,
): { value: unknown; windows: ValidityWindow[] } {
  const chain = parsePemChain(chainPem, `${what} issuer chain`, scope);
  const checked = checkChain(chain, root, `${what} issuer chain`, (issuer) => (issuer === chain[chain.length - 1] ? rootCaCrl : undefined), scope);
  const signer = chain[0] as Cert;
  if (signer.subjectCn !== 'Intel SGX TCB Signing') {
    throw new TdxError('CertificateChainInvalid', `${what} is signed by "${signer.subjectCn}", expected "Intel SGX TCB Signing"`);
  }
  const signed = extractSignedJson(body, member, what, codes.malformed);
  const ok = verifyRawEcdsa('sha256', Buffer.from(signed.signedText, 'utf8'), signer.publicKey, signed.signature, 32);
  if (!ok) throw new TdxError(codes.signature, `${what} signature does not verify over the signed "${member}" bytes`);
  return { value: signed.value, windows: checked.windows };
}

/** Verifies everything in the collateral that does not depend on the quote or on the time. */
export function verifyCollateral(c: TdxCollateral, root: Cert, scope: CertScope = createCertScope()): VerifiedCollateral {
  const tcbSignerRoot = parsePemChain(c.tcbInfoIssuerChain, 'TCB Info issuer chain', scope).at(-1);
  if (!tcbSignerRoot || !bytesEqual(tcbSignerRoot.der, root.der)) {
    throw new TdxError('RootCaMismatch', 'TCB Info issuer chain does not end in the pinned Intel SGX Root CA');
  }
  const rootCaCrl = parseCrl(c.rootCaCrl, 'Root CA CRL');
  const windows: ValidityWindow[] = [checkCrl(rootCaCrl, root, 'Root CA CRL')];
  if (rootCaCrl.revokedSerials.has(root.serial)) throw new TdxError('CertificateRevoked', 'the Intel SGX Root CA is listed in its own CRL');

  const tcb = verifySignedJson(c.tcbInfoBody, 'tcbInfo', c.tcbInfoIssuerChain, root, rootCaCrl, { malformed: 'TcbInfoMalformed', signature: 'TcbInfoSignatureInvalid' }, 'TCB Info', scope);
  const tcbParsed = TdxTcbInfoSchema.safeParse(tcb.value);
  if (!tcbParsed.success) throw new TdxError('TcbInfoMalformed', `TCB Info is not a TDX TCB Info v3 (${firstIssue(tcbParsed.error)})`);
  const tcbInfo = tcbParsed.data;

  const qe = verifySignedJson(c.qeIdentityBody, 'enclaveIdentity', c.qeIdentityIssuerChain, root, rootCaCrl, { malformed: 'QeIdentityMalformed', signature: 'QeIdentitySignatureInvalid' }, 'QE Identity', scope);
  const qeParsed = TdQeIdentitySchema.safeParse(qe.value);
  if (!qeParsed.success) throw new TdxError('QeIdentityMalformed', `QE Identity is not a TD_QE identity v2 (${firstIssue(qeParsed.error)})`);
  const qeIdentity = qeParsed.data;

  const pckCrlChain = parsePemChain(c.pckCrlIssuerChain, 'PCK CRL issuer chain', scope);
  const pckChainCheck = checkChain(pckCrlChain, root, 'PCK CRL issuer chain', (issuer) => (issuer === pckCrlChain[pckCrlChain.length - 1] ? rootCaCrl : undefined), scope);
  const pckCrlIssuer = pckCrlChain[0] as Cert;
  if (pckCrlIssuer.subjectCn !== 'Intel SGX PCK Platform CA' && pckCrlIssuer.subjectCn !== 'Intel SGX PCK Processor CA') {
    throw new TdxError('CrlIssuerMismatch', `PCK CRL issuer chain starts with "${pckCrlIssuer.subjectCn}", not a PCK Platform/Processor CA`);
  }
  const pckCrl = parseCrl(c.pckCrl, 'PCK CRL');
  windows.push(checkCrl(pckCrl, pckCrlIssuer, 'PCK CRL'));

  windows.push(
    ...tcb.windows,
    ...qe.windows,
    ...pckChainCheck.windows,
    { what: 'TCB Info', notBefore: new Date(tcbInfo.issueDate), notAfter: new Date(tcbInfo.nextUpdate), code: 'TcbInfoExpired' },
    { what: 'QE Identity', notBefore: new Date(qeIdentity.issueDate), notAfter: new Date(qeIdentity.nextUpdate), code: 'QeIdentityExpired' },
  );
  return { tcbInfo, qeIdentity, root, rootCaCrl, pckCrl, pckCrlIssuer, windows };
}

/** The earliest `notAfter` among the collateral's windows (when it must be refreshed at the latest). */
export function collateralExpiry(v: VerifiedCollateral): Date {
  return new Date(Math.min(...v.windows.map((w) => w.notAfter.getTime())));
}
