// The attestation service's trust material: a P-256 CA (the anchor TNG verifiers hold, served at
// /certificate) that certifies the EAR signing key (the token header's x5c leaf) and the TLS serving
// certificate. Rotation is a pure state machine over that material and a time:
//   beginRotation: a new keyset is published as an anchor next to the active one (`next`), signing unchanged;
//   at `activateAt` the new keyset signs and serves TLS, the old CA stays an anchor until `dropAt`;
//   afterwards only the new CA remains. Verifiers that re-read anchors within the overlap never see a gap.
import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
// @peculiar/x509 resolves its ASN.1 providers through tsyringe, which needs the Reflect polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface AsKeyset {
  caCertPem: string;
  caKeyPem: string;
  signerKeyPem: string;
  /** Certificate of the EAR signing key, issued by the CA (the x5c leaf). */
  signerCertPem: string;
}

export interface AsCaState {
  version: 1;
  active: AsKeyset;
  next?: { keyset: AsKeyset; activateAt: string; overlapSeconds: number };
  retired?: { caCertPem: string; dropAt: string };
}

export class AsCaError extends Error {
  override name = 'AsCaError';
  readonly code: 'CaStateInvalid' | 'RotationInProgress';
  constructor(code: AsCaError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const x509Crypto = webcrypto as unknown as NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
const IP = /^\d{1,3}(\.\d{1,3}){3}$/;
const DAY = 86_400_000;

const serial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
const keys = () => webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
const pkcs8Pem = async (k: webcrypto.CryptoKey) => x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', k), 'PRIVATE KEY') + '\n';
const importKey = (pem: string, usage: 'sign') =>
  webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decode(pem)[0]!, EC, true, [usage]) as Promise<webcrypto.CryptoKey>;

/** A fresh CA and EAR signing key + certificate, valid `validDays` from `now`. */
export async function generateAsKeyset(opts: { now: number; validDays?: number; name?: string }): Promise<AsKeyset> {
  const notBefore = new Date(opts.now - 60_000);
  const notAfter = new Date(opts.now + (opts.validDays ?? 365) * DAY);
  const caKeys = await keys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: `CN=${opts.name ?? 'confidential-agent-operator attestation service CA'}`,
      keys: caKeys,
      notBefore,
      notAfter,
      signingAlgorithm: EC,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
    },
    x509Crypto,
  );
  const signerKeys = await keys();
  const signer = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: 'CN=confidential-agent-operator EAR signer',
      issuer: ca.subject,
      publicKey: signerKeys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm: EC,
      // No EKU: webpki (TNG) checks the leaf "for client auth", which an absent EKU satisfies.
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    },
    x509Crypto,
  );
  return { caCertPem: ca.toString('pem') + '\n', caKeyPem: await pkcs8Pem(caKeys.privateKey), signerKeyPem: await pkcs8Pem(signerKeys.privateKey), signerCertPem: signer.toString('pem') + '\n' };
}

/** A TLS serving certificate for `hosts` (DNS names or IPs) issued by the keyset's CA. */
export async function issueServingCert(keyset: AsKeyset, hosts: string[], opts: { now: number; validDays?: number }): Promise<{ key: string; cert: string }> {
  const ca = new x509.X509Certificate(keyset.caCertPem);
  const caKey = await importKey(keyset.caKeyPem, 'sign');
  const leafKeys = await keys();
  const notAfter = Math.min(ca.notAfter.getTime(), opts.now + (opts.validDays ?? 90) * DAY);
  const sans = [...new Set(hosts)].map((h) => ({ type: IP.test(h) || h.includes(':') ? ('ip' as const) : ('dns' as const), value: h }));
  const leaf = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: 'CN=confidential-agent-operator attestation service',
      issuer: ca.subject,
      publicKey: leafKeys.publicKey,
      signingKey: caKey,
      notBefore: new Date(opts.now - 60_000),
      notAfter: new Date(notAfter),
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(sans, false),
      ],
    },
    x509Crypto,
  );
  return { key: await pkcs8Pem(leafKeys.privateKey), cert: leaf.toString('pem') + '\n' };
}

export const initialCaState = (keyset: AsKeyset): AsCaState => ({ version: 1, active: keyset });

/** Publishes `next` as an anchor now; it signs from now + overlap; the old CA stays an anchor one more overlap. */
export function beginRotation(state: AsCaState, next: AsKeyset, now: number, overlapSeconds: number): AsCaState {
  if (state.next) throw new AsCaError('RotationInProgress', `a rotation is already in progress (activates at ${state.next.activateAt})`);
  return { ...state, next: { keyset: next, activateAt: new Date(now + overlapSeconds * 1000).toISOString(), overlapSeconds } };
}

/** The state at `now`: a due `next` becomes active (the old CA retired for one overlap), an expired retiree is dropped. */
export function advance(state: AsCaState, now: number): AsCaState {
  let s = state;
  if (s.next && now >= Date.parse(s.next.activateAt)) {
    const dropAt = new Date(Date.parse(s.next.activateAt) + s.next.overlapSeconds * 1000).toISOString();
    s = { version: 1, active: s.next.keyset, retired: { caCertPem: s.active.caCertPem, dropAt } };
  }
  if (s.retired && now >= Date.parse(s.retired.dropAt)) {
    const { retired: _dropped, ...rest } = s;
    s = rest;
  }
  return s;
}

/** The PEM anchors verifiers must trust at `now`: active, pending and not-yet-dropped retired CAs. */
export function anchorsPem(state: AsCaState, now: number): string {
  const s = advance(state, now);
  return [s.active.caCertPem, s.next?.keyset.caCertPem, s.retired?.caCertPem].filter((p): p is string => p !== undefined).join('');
}

/** Whether the active CA expires within `renewBeforeSeconds` of `now` (time to begin a rotation). */
export function needsRotation(state: AsCaState, now: number, renewBeforeSeconds: number): boolean {
  if (state.next) return false;
  return new X509Certificate(state.active.caCertPem).validToDate.getTime() - now <= renewBeforeSeconds * 1000;
}

/** DER of a PEM certificate (x5c entries). */
export const certDer = (pem: string): Uint8Array => new Uint8Array(new X509Certificate(pem).raw);

function checkKeyset(k: unknown, where: string): AsKeyset {
  const o = k as Record<string, unknown> | null;
  const fields = ['caCertPem', 'caKeyPem', 'signerKeyPem', 'signerCertPem'] as const;
  if (typeof o !== 'object' || o === null || !fields.every((f) => typeof o[f] === 'string' && (o[f] as string).length < 16384)) {
    throw new AsCaError('CaStateInvalid', `${where} must hold caCertPem, caKeyPem, signerKeyPem and signerCertPem`);
  }
  const ks = o as unknown as AsKeyset;
  try {
    const ca = new X509Certificate(ks.caCertPem);
    const signer = new X509Certificate(ks.signerCertPem);
    if (!ca.ca) throw new Error('CA certificate lacks basicConstraints CA');
    if (!signer.verify(ca.publicKey)) throw new Error('signer certificate is not issued by the CA');
    if (!signer.checkPrivateKey(createPrivateKey(ks.signerKeyPem))) throw new Error('signer key does not match its certificate');
    if (!ca.checkPrivateKey(createPrivateKey(ks.caKeyPem))) throw new Error('CA key does not match the CA certificate');
  } catch (err) {
    throw new AsCaError('CaStateInvalid', `${where}: ${err instanceof Error ? err.message : 'invalid PEM'}`);
  }
  return { caCertPem: ks.caCertPem, caKeyPem: ks.caKeyPem, signerKeyPem: ks.signerKeyPem, signerCertPem: ks.signerCertPem };
}

const isoDate = (v: unknown, where: string): string => {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw new AsCaError('CaStateInvalid', `${where} must be an RFC 3339 time`);
  return v;
};

/** Parses and checks persisted state (the Secret's state.json): every key matches its certificate. */
export function parseCaState(json: string): AsCaState {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    throw new AsCaError('CaStateInvalid', 'state.json is not JSON');
  }
  const o = v as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || o['version'] !== 1) throw new AsCaError('CaStateInvalid', 'state.json version must be 1');
  const state: AsCaState = { version: 1, active: checkKeyset(o['active'], 'active') };
  const next = o['next'] as Record<string, unknown> | undefined;
  if (next !== undefined) {
    const overlap = next['overlapSeconds'];
    if (typeof overlap !== 'number' || !Number.isInteger(overlap) || overlap < 0) throw new AsCaError('CaStateInvalid', 'next.overlapSeconds must be a non-negative integer');
    state.next = { keyset: checkKeyset(next['keyset'], 'next.keyset'), activateAt: isoDate(next['activateAt'], 'next.activateAt'), overlapSeconds: overlap };
  }
  const retired = o['retired'] as Record<string, unknown> | undefined;
  if (retired !== undefined) {
    if (typeof retired['caCertPem'] !== 'string') throw new AsCaError('CaStateInvalid', 'retired.caCertPem must be a PEM certificate');
    state.retired = { caCertPem: retired['caCertPem'], dropAt: isoDate(retired['dropAt'], 'retired.dropAt') };
  }
  return state;
}
