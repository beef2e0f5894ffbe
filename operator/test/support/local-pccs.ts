// Test support: a PCCS v4 on loopback serving one real collateral folder in the PCCS wire format (URL-encoded
// PEM issuer-chain headers, DER PCK CRL, hex Root CA CRL). `behavior` bends single answers (a missing or
// undecodable header, an undecodable CRL, an HTTP error, a slow answer) and `requests` records what was asked.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LocalPccsBehavior {
  /** Value sent as TCB-Info-Issuer-Chain instead of the encoded chain; null leaves the header out. */
  tcbChainHeader?: string | null;
  pckCrlBody?: Buffer;
  rootCaCrlBody?: Buffer;
  /** Answer every request with this status (and an empty body). */
  status?: number;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface LocalPccs {
  /** http://127.0.0.1:<port> */
  base: string;
  requests: { path: string; headers: IncomingHttpHeaders }[];
  behavior: LocalPccsBehavior;
  /** Back to plain answers, with no requests recorded (between tests). */
  reset(): void;
  close(): Promise<void>;
}

/** Serves `dir` (tcb_info.json, qe_identity.json, pck_crl.der, root_ca_crl.der and the chain PEMs) for `fmspc`. */
export async function startLocalPccs(dir: string, fmspc: string): Promise<LocalPccs> {
  const file = (name: string) => readFileSync(join(dir, name));
  const chain = (name: string) => encodeURIComponent(file(name).toString('utf8'));
  const requests: LocalPccs['requests'] = [];
  const behavior: LocalPccsBehavior = {};
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ path: `${url.pathname}${url.search}`, headers: req.headers });
    const answer = () => {
      if (behavior.status !== undefined) return res.writeHead(behavior.status).end();
      if (url.pathname.endsWith('/tdx/certification/v4/tcb') && url.searchParams.get('fmspc') === fmspc) {
        const header = behavior.tcbChainHeader === undefined ? chain('tcb_info_issuer_chain.pem') : behavior.tcbChainHeader;
        return res.writeHead(200, header === null ? {} : { 'TCB-Info-Issuer-Chain': header }).end(file('tcb_info.json'));
      }
      if (url.pathname.endsWith('/tdx/certification/v4/qe/identity')) {
        return res.writeHead(200, { 'SGX-Enclave-Identity-Issuer-Chain': chain('tcb_info_issuer_chain.pem') }).end(file('qe_identity.json'));
      }
      if (url.pathname.endsWith('/sgx/certification/v4/pckcrl')) {
        return res.writeHead(200, { 'SGX-PCK-CRL-Issuer-Chain': chain('pck_crl_issuer_chain.pem') }).end(behavior.pckCrlBody ?? file('pck_crl.der'));
      }
      if (url.pathname.endsWith('rootcacrl') || url.pathname.endsWith('.der')) {
        return res.writeHead(200).end(behavior.rootCaCrlBody ?? file('root_ca_crl.der').toString('hex'));
      }
      return res.writeHead(404).end();
    };
    if (behavior.delayMs) setTimeout(answer, behavior.delayMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    behavior,
    reset: () => {
      for (const k of Object.keys(behavior)) delete behavior[k as keyof LocalPccsBehavior];
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
