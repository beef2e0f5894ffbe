// The KBS's TLS material: from files (e.g. a mounted Secret, re-read when it changes, so new connections
// get the new certificate) or, in development, a generated CA and serving certificate. `guestTrust` is
// what guests get as `kbs_cert` in the attested bootstrap push: the CA when one is known, else the chain.
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { readFile, stat } from 'node:fs/promises';
import { webcrypto } from 'node:crypto';
// @peculiar/x509 resolves its ASN.1 providers through tsyringe, which needs the Reflect polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface KbsTlsMaterial {
  key: string;
  cert: string;
  /** PEM the guest trusts the KBS with (`kbs_cert`). */
  guestTrust: string;
}

export interface KbsTlsFiles {
  certFile: string;
  keyFile: string;
  /** CA certificate(s) guests should trust; default: the certificate file (chain) itself. */
  caFile?: string;
}

export class KbsTlsError extends Error {
  override name = 'KbsTlsError';
  readonly code: 'TlsFileUnreadable' | 'TlsFileTooLarge' | 'TlsMaterialInvalid';
  constructor(code: KbsTlsError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

const MAX_PEM_BYTES = 256 * 1024;

async function readPem(file: string, what: string): Promise<string> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    throw new KbsTlsError('TlsFileUnreadable', `${what} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (size > MAX_PEM_BYTES) throw new KbsTlsError('TlsFileTooLarge', `${what} ${file} is ${size} bytes; the limit is ${MAX_PEM_BYTES}`);
  return readFile(file, 'utf8');
}

/** Reads and checks the files: the key must match the certificate (createSecureContext refuses otherwise). */
export async function loadKbsTls(files: KbsTlsFiles): Promise<KbsTlsMaterial> {
  const [cert, key, ca] = await Promise.all([readPem(files.certFile, '--kbs-tls-cert'), readPem(files.keyFile, '--kbs-tls-key'), files.caFile ? readPem(files.caFile, '--kbs-tls-ca') : undefined]);
  checkTls({ key, cert });
  if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) throw new KbsTlsError('TlsMaterialInvalid', `--kbs-tls-ca ${files.caFile} holds no PEM certificate`);
  return { key, cert, guestTrust: ca ?? cert };
}

export function checkTls(m: Pick<SecureContextOptions, 'key' | 'cert'>): void {
  try {
    createSecureContext({ key: m.key, cert: m.cert });
  } catch (err) {
    throw new KbsTlsError('TlsMaterialInvalid', `KBS TLS key and certificate are not a usable pair: ${err instanceof Error ? err.message : 'error'}`);
  }
}

/**
 * Polls the files (stat + content compare; a Secret volume swaps a symlink, which fs.watch can miss) and
 * calls `onChange` with new, checked material. A bad update is reported and the previous material kept.
 */
export function watchKbsTls(files: KbsTlsFiles, current: KbsTlsMaterial, opts: { intervalMs: number; onChange(m: KbsTlsMaterial): void; onError(e: KbsTlsError): void }): () => void {
  let last = current;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    loadKbsTls(files)
      .then((next) => {
        if (next.key === last.key && next.cert === last.cert && next.guestTrust === last.guestTrust) return;
        last = next;
        opts.onChange(next);
      })
      .catch((err: unknown) => opts.onError(err instanceof KbsTlsError ? err : new KbsTlsError('TlsFileUnreadable', String(err))))
      .finally(() => (running = false));
  }, opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const x509Crypto = webcrypto as unknown as NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Development: a fresh CA and a serving certificate for `hosts` (IPs or DNS names), valid `validDays`. */
export async function generateKbsTls(hosts: string[], opts: { now?: number; validDays?: number } = {}): Promise<KbsTlsMaterial> {
  const now = opts.now ?? Date.now();
  const notBefore = new Date(now - 60_000);
  const notAfter = new Date(now + (opts.validDays ?? 30) * 86_400_000);
  const serial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
  const keys = () => webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
  const caKeys = await keys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: 'CN=cai-kbs-development-ca',
      keys: caKeys,
      notBefore,
      notAfter,
      signingAlgorithm: EC,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
    },
    x509Crypto,
  );
  const leafKeys = await keys();
  const sans = [...new Set(hosts)].map((h) => ({ type: IPV4.test(h) || h.includes(':') ? ('ip' as const) : ('dns' as const), value: h }));
  const leaf = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: 'CN=cai-kbs',
      issuer: ca.subject,
      publicKey: leafKeys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore,
      notAfter,
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
  const key = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey), 'PRIVATE KEY') + '\n';
  return { key, cert: leaf.toString('pem') + '\n', guestTrust: ca.toString('pem') + '\n' };
}
