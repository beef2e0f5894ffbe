// Certificate chain validation to a pinned root at an injected time: names, signatures, validity,
// CA constraints (basicConstraints, keyUsage, pathLen) and unknown critical extensions.
// Signatures use node:crypto (OpenSSL); pkijs only decodes extensions.
import { X509Certificate, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { decodeBase64 } from './bytes.ts';
import { NvidiaError, type NvidiaErrorCode } from './errors.ts';

export interface ParsedCert {
  der: Uint8Array;
  node: X509Certificate;
  decoded: pkijs.Certificate;
  /** Subject public key (created once: node's getter builds a new KeyObject per access). */
  publicKey: KeyObject;
  /** Subject common name (or the full subject when there is no CN), for messages. */
  name: string;
}

export type ChainKind = 'device' | 'rim';

export interface ChainWindow {
  /** The chain verifies for any time in [notBefore, notAfter]. */
  notBefore: Date;
  notAfter: Date;
}

const BASIC_CONSTRAINTS = '2.5.29.19';
const KEY_USAGE = '2.5.29.15';
/** Critical extensions this validator understands (others make the certificate unusable, RFC 5280 §4.2). */
const UNDERSTOOD_CRITICAL = new Set([BASIC_CONSTRAINTS, KEY_USAGE, '2.5.29.37', '2.5.29.17', '2.5.29.32', '2.23.133.5.4.1']);
const KU_DIGITAL_SIGNATURE = 0x80;
const KU_KEY_CERT_SIGN = 0x04;

const codes: Record<ChainKind, { untrusted: NvidiaErrorCode; invalid: NvidiaErrorCode; expired: NvidiaErrorCode }> = {
  device: { untrusted: 'DeviceChainUntrusted', invalid: 'DeviceChainInvalid', expired: 'DeviceCertExpired' },
  rim: { untrusted: 'RimChainUntrusted', invalid: 'RimChainInvalid', expired: 'RimCertExpired' },
};

function commonName(subject: string): string {
  const cn = subject.split('\n').find((l) => l.startsWith('CN='));
  return cn ? cn.slice(3) : subject.replace(/\n/g, ', ');
}

export function parseCertificateDer(der: Uint8Array, label: string): ParsedCert {
  try {
    const node = new X509Certificate(der);
    const decoded = pkijs.Certificate.fromBER(der);
    return { der, node, decoded, publicKey: node.publicKey, name: commonName(node.subject) };
  } catch (err) {
    throw new NvidiaError('CertificateMalformed', `${label} is not a valid X.509 certificate (${err instanceof Error ? err.message : 'parse error'})`);
  }
}

/** Splits a PEM bundle (leaf first) into certificates; rejects empty bundles and garbage between blocks. */
export function parsePemChain(pem: string, label: string): ParsedCert[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new NvidiaError('CertificateMalformed', `${label} contains no PEM certificate`);
  const rest = pem.replace(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g, '').trim();
  if (rest.length > 0) throw new NvidiaError('CertificateMalformed', `${label} has non-PEM content between certificates`);
  return blocks.map((b, i) => {
    const body = b.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '');
    return parseCertificateDer(decodeBase64(body, `${label} certificate ${i}`, 'CertificateMalformed'), `${label} certificate ${i}`);
  });
}

interface Constraints {
  ca: boolean | undefined;
  pathLen: number | undefined;
  keyUsage: number | undefined;
}

function constraintsOf(cert: ParsedCert, kind: ChainKind): Constraints {
  const out: Constraints = { ca: undefined, pathLen: undefined, keyUsage: undefined };
  for (const ext of cert.decoded.extensions ?? []) {
    if (ext.critical && !UNDERSTOOD_CRITICAL.has(ext.extnID)) {
      throw new NvidiaError(codes[kind].invalid, `certificate '${cert.name}' has an unsupported critical extension ${ext.extnID}`);
    }
    if (ext.extnID === BASIC_CONSTRAINTS) {
      const bc = ext.parsedValue as pkijs.BasicConstraints | undefined;
      out.ca = bc?.cA === true;
      const len = bc?.pathLenConstraint;
      out.pathLen = typeof len === 'number' ? len : len instanceof asn1js.Integer ? len.valueBlock.valueDec : undefined;
    } else if (ext.extnID === KEY_USAGE) {
      const ku = ext.parsedValue as asn1js.BitString | undefined;
      out.keyUsage = ku?.valueBlock.valueHexView[0] ?? 0;
    }
  }
  return out;
}

function checkValidity(cert: ParsedCert, at: Date, kind: ChainKind): void {
  const from = cert.node.validFromDate;
  const to = cert.node.validToDate;
  if (at < from || at > to) {
    throw new NvidiaError(
      codes[kind].expired,
      `certificate '${cert.name}' is not valid at ${at.toISOString()} (valid ${from.toISOString()} to ${to.toISOString()})`,
    );
  }
}

/**
 * Validates `chain` (leaf first; the pinned root may or may not be appended) up to `root`.
 * Returns the time window in which the same answer holds, so callers may memoize by chain bytes.
 */
export function verifyChain(chain: ParsedCert[], root: ParsedCert, at: Date, kind: ChainKind): ChainWindow {
  const c = codes[kind];
  if (chain.length === 0) throw new NvidiaError(c.invalid, `${kind} certificate chain is empty`);
  const last = chain[chain.length - 1];
  const presented = last && Buffer.from(last.der).equals(Buffer.from(root.der)) ? chain.slice(0, -1) : chain;
  if (presented.length === 0) throw new NvidiaError(c.invalid, `${kind} certificate chain holds only the root`);
  const path = [...presented, root];
  for (let i = 0; i + 1 < path.length; i++) {
    const child = path[i] as ParsedCert;
    const parent = path[i + 1] as ParsedCert;
    const toRoot = i + 1 === path.length - 1;
    const code = toRoot ? c.untrusted : c.invalid;
    if (!child.node.checkIssued(parent.node)) {
      throw new NvidiaError(code, `certificate '${child.name}' was not issued by '${parent.name}'${toRoot ? ' (the pinned root)' : ''}`);
    }
    if (!child.node.verify(parent.publicKey)) {
      throw new NvidiaError(code, `signature on certificate '${child.name}' does not verify with the key of '${parent.name}'`);
    }
  }
  let notBefore = new Date(-8.64e15);
  let notAfter = new Date(8.64e15);
  path.forEach((cert, i) => {
    const k = constraintsOf(cert, kind);
    if (i === 0) {
      if (k.keyUsage !== undefined && (k.keyUsage & KU_DIGITAL_SIGNATURE) === 0) {
        throw new NvidiaError(c.invalid, `leaf certificate '${cert.name}' keyUsage lacks digitalSignature`);
      }
    } else {
      if (k.ca !== true) throw new NvidiaError(c.invalid, `issuer certificate '${cert.name}' is not a CA (basicConstraints)`);
      if (k.keyUsage !== undefined && (k.keyUsage & KU_KEY_CERT_SIGN) === 0) {
        throw new NvidiaError(c.invalid, `issuer certificate '${cert.name}' keyUsage lacks keyCertSign`);
      }
      const intermediatesBelow = i - 1;
      if (k.pathLen !== undefined && intermediatesBelow > k.pathLen) {
        throw new NvidiaError(c.invalid, `certificate '${cert.name}' pathLenConstraint ${k.pathLen} is exceeded`);
      }
    }
    checkValidity(cert, at, kind);
    if (cert.node.validFromDate > notBefore) notBefore = cert.node.validFromDate;
    if (cert.node.validToDate < notAfter) notAfter = cert.node.validToDate;
  });
  return { notBefore, notAfter };
}
