// The soak's PCCS (PCCS v4 wire format, as hardware-evidence.ts serves it): collateral re-issued by the test PKI
// as it ages (valid only `validityMs`, so the operator's cache really runs out), an expired set on demand (TCB
// Info + QE Identity, or the PCK and root CA CRLs, with nextUpdate an hour ago), and outages (503s or reset
// connections). It records every part it served with that part's nextUpdate, for trust-invariants.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TdxCollateral } from '../../../src/attestation/tdx/collateral.ts';
import type { TdxResigner } from '../../fixtures/tdx/test-pki.ts';
import type { ServedCollateral } from './trust-invariants.ts';

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

export interface SoakPccs {
  /** http://127.0.0.1:port (the policy's pccsUrl is origin + /tdx/certification/v4). */
  origin: string;
  /** Every collateral part answered, with its own nextUpdate. */
  served: ServedCollateral[];
  requests(): { total: number; refusedInOutage: number };
  /** An outage (every request refused) or none. */
  setOutage(kind: 'reset' | '503' | undefined): void;
  /** Serve an expired set (issued afresh for each window) or fresh collateral again. */
  setExpired(kind: 'tcb' | 'crl' | undefined): void;
  close(): Promise<void>;
}

interface Mode {
  outage?: 'reset' | '503';
  expired?: 'tcb' | 'crl';
}

export async function startSoakPccs(tdx: TdxResigner, validityMs: number): Promise<SoakPccs> {
  const mode: Mode = {};
  const served: ServedCollateral[] = [];
  let pccsRequests = 0;
  let pccsRefused = 0;
  type Issued = { collateral: TdxCollateral; next: Record<ServedCollateral['part'], number>; issuedAt: number };
  const issue = async (kind: 'fresh' | 'tcb' | 'crl'): Promise<Issued> => {
    const at = Date.now();
    // In an expired set only the named part is expired; the rest outlives the window, so the refusal names it.
    const docNext = kind === 'tcb' ? at - 3600_000 : at + (kind === 'fresh' ? validityMs : 3 * validityMs);
    const crlNext = kind === 'crl' ? at - 3600_000 : at + (kind === 'fresh' ? validityMs : 3 * validityMs);
    const dates = (x: Record<string, unknown>) => Object.assign(x, { issueDate: iso(at - DAY), nextUpdate: iso(docNext) });
    const collateral = await tdx.recollateral({ editTcbInfo: dates, editQeIdentity: dates, crlThisUpdate: new Date(at - DAY), crlNextUpdate: new Date(crlNext) });
    // Seconds precision on the wire: what the verifier reads.
    const doc = Math.floor(docNext / 1000) * 1000;
    return { collateral, next: { tcb: doc, qe: doc, pckcrl: Math.floor(crlNext / 1000) * 1000, rootcacrl: Math.floor(crlNext / 1000) * 1000 }, issuedAt: at };
  };
  let fresh = await issue('fresh');
  let expired: Partial<Record<'tcb' | 'crl', Issued>> = {};
  let reissuing: Promise<void> | undefined;
  const current = async (): Promise<Issued> => {
    if (mode.expired) return (expired[mode.expired] ??= await issue(mode.expired));
    // Re-issued when a tenth of its validity is gone, so what is served always has most of it left.
    if (Date.now() - fresh.issuedAt > validityMs / 10) {
      reissuing ??= issue('fresh').then((f) => void (fresh = f)).finally(() => (reissuing = undefined));
      await reissuing;
    }
    return fresh;
  };
  const pccs: Server = createServer((req, res) => {
    pccsRequests++;
    if (mode.outage) {
      pccsRefused++;
      if (mode.outage === 'reset') return void req.socket.destroy();
      return void res.writeHead(503).end();
    }
    const path = new URL(req.url ?? '/', 'http://pccs').pathname;
    void current().then((d) => {
      const c = d.collateral;
      const record = (part: ServedCollateral['part']) => served.push({ at: Date.now(), part, nextUpdate: d.next[part] });
      if (path === '/tdx/certification/v4/tcb') {
        record('tcb');
        res.writeHead(200, { 'content-type': 'application/json', 'TCB-Info-Issuer-Chain': encodeURIComponent(c.tcbInfoIssuerChain) }).end(Buffer.from(c.tcbInfoBody));
      } else if (path === '/tdx/certification/v4/qe/identity') {
        record('qe');
        res.writeHead(200, { 'content-type': 'application/json', 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(c.qeIdentityIssuerChain) }).end(Buffer.from(c.qeIdentityBody));
      } else if (path === '/sgx/certification/v4/pckcrl') {
        record('pckcrl');
        res.writeHead(200, { 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(c.pckCrlIssuerChain) }).end(Buffer.from(c.pckCrl));
      } else if (path === '/sgx/certification/v4/rootcacrl') {
        record('rootcacrl');
        res.writeHead(200).end(Buffer.from(c.rootCaCrl).toString('hex'));
      } else {
        res.writeHead(404).end();
      }
    }, () => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => pccs.listen(0, '127.0.0.1', resolve));
  const pccsOrigin = `http://127.0.0.1:${(pccs.address() as AddressInfo).port}`;


  return {
    origin: pccsOrigin,
    served,
    requests: () => ({ total: pccsRequests, refusedInOutage: pccsRefused }),
    setOutage: (kind) => {
      if (kind) mode.outage = kind;
      else delete mode.outage;
    },
    setExpired: (kind) => {
      expired = {};
      if (kind) mode.expired = kind;
      else delete mode.expired;
    },
    close: async () => {
      pccs.closeAllConnections();
      await new Promise<void>((resolve) => pccs.close(() => resolve()));
    },
  };
}
