// Certificates for a throw-away control plane: one CA that signs the API server's serving certificate
// and an admin client certificate (O=system:masters, so RBAC lets it do anything), plus the
// service-account token signing key. ECDSA P-256 throughout: fast to generate, accepted by Go's TLS
// stack and by the API server's service-account signer (ES256).
import { webcrypto } from 'node:crypto';
// @peculiar/x509 2.x resolves its ASN.1 providers through tsyringe, which needs the Reflect metadata
// polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
type KeyPair = webcrypto.CryptoKeyPair;

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const subtle = webcrypto.subtle;
// Node's WebCrypto is the provider; the cast bridges Node's and the DOM lib's identical type names.
const crypto = webcrypto as unknown as X509Crypto;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface ControlPlaneCerts {
  ca: PemPair;
  serving: PemPair;
  admin: PemPair;
  /** Service-account token signing key (private, PKCS#8 PEM) and its public key (SPKI PEM). */
  serviceAccount: { keyPem: string; publicKeyPem: string };
}

export interface CertOptions {
  /** Extra subject alternative names for the serving certificate (IPs or DNS names). */
  servingHosts?: string[];
  /** Validity; defaults to 7 days, plenty for a test run or a dev session. */
  validDays?: number;
  now?: () => number;
}

const pem = (label: string, der: ArrayBuffer): string => x509.PemConverter.encode(der, label) + '\n';

async function newKeys(): Promise<KeyPair> {
  return (await subtle.generateKey(EC, true, ['sign', 'verify'])) as KeyPair;
}

async function privatePem(key: webcrypto.CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await subtle.exportKey('pkcs8', key));
}


const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const isIp = (host: string) => IPV4.test(host) || host.includes(':');

export async function generateControlPlaneCerts(opts: CertOptions = {}): Promise<ControlPlaneCerts> {
  const now = opts.now?.() ?? Date.now();
  const notBefore = new Date(now - 60_000); // tolerate small clock differences
  const notAfter = new Date(now + (opts.validDays ?? 7) * 86_400_000);
  const serial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');

  const caKeys = await newKeys();
  const caName = 'CN=cai-operator-devenv-ca';
  const caCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: caName,
      keys: caKeys,
      notBefore,
      notAfter,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const leaf = async (subject: string, usage: string, sans: x509.JsonGeneralNames | undefined): Promise<PemPair> => {
    const keys = await newKeys();
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([usage], false),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
    ];
    if (sans) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject,
        issuer: caCert.subject,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        notBefore,
        notAfter,
        signingAlgorithm: EC,
        extensions,
      },
      crypto,
    );
    return { certPem: cert.toString('pem') + '\n', keyPem: await privatePem(keys.privateKey) };
  };

  // The in-cluster names and the first service IP are included so that a client reaching the
  // "kubernetes" Service (e.g. a pod in a later, fuller dev setup) would also verify.
  const hosts = ['127.0.0.1', 'localhost', '10.0.0.1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', ...(opts.servingHosts ?? [])];
  const sans = [...new Set(hosts)].map((h) => ({ type: isIp(h) ? ('ip' as const) : ('dns' as const), value: h }));
  const serving = await leaf('CN=kube-apiserver', x509.ExtendedKeyUsage.serverAuth, sans);
  const admin = await leaf('CN=cai-admin, O=system:masters', x509.ExtendedKeyUsage.clientAuth, undefined);

  const saKeys = await newKeys();
  return {
    ca: { certPem: caCert.toString('pem') + '\n', keyPem: await privatePem(caKeys.privateKey) },
    serving,
    admin,
    serviceAccount: {
      keyPem: await privatePem(saKeys.privateKey),
      publicKeyPem: pem('PUBLIC KEY', await subtle.exportKey('spki', saKeys.publicKey)),
    },
  };
}
