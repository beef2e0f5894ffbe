// HTTP client for the Intel PCS / PCCS v4 collateral API. It only fetches and decodes (issuer-chain headers are
// URL-encoded PEM; CRLs may be DER, PEM or hex); verification and caching live elsewhere. Every response is
// size-capped per endpoint, the timeout covers the body, redirects are refused, and no body reaches a message.
import { TdxError } from './errors.ts';
import type { TdxCollateral } from './collateral.ts';
import { crlBytes } from './crl-encoding.ts';
import { describeUrl, EgressError, fetchBounded, type BoundedResponse } from '../../net/egress.ts';

export interface PccsClientOptions {
  /**
   * Base URL: a host root (`https://api.trustedservices.intel.com`), or its `/tdx/certification/v4` or
   * `/sgx/certification/v4` path (the AttestationPolicy default is the TDX path).
   */
  baseUrl: string;
  /** Root CA CRL location; default: the PCCS `/sgx/certification/v4/rootcacrl`, or Intel's CRL distribution point for Intel PCS. */
  rootCaCrlUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export interface PccsEndpoints {
  tdx: string;
  sgx: string;
  rootCaCrl: string;
}

const INTEL_PCS_HOST = 'api.trustedservices.intel.com';
const INTEL_ROOT_CA_CRL = 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der';

export function pccsEndpoints(opts: Pick<PccsClientOptions, 'baseUrl' | 'rootCaCrlUrl'>): PccsEndpoints {
  let url: URL;
  try {
    url = new URL(opts.baseUrl);
  } catch {
    throw new TdxError('CollateralUnavailable', `PCCS base URL "${opts.baseUrl}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TdxError('CollateralUnavailable', `PCCS base URL must be http(s), got ${url.protocol}`);
  const root = url.href.replace(/\/+$/, '').replace(/\/(tdx|sgx)\/certification\/v4$/, '');
  const sgx = `${root}/sgx/certification/v4`;
  const rootCaCrl = opts.rootCaCrlUrl ?? (url.hostname === INTEL_PCS_HOST ? INTEL_ROOT_CA_CRL : `${sgx}/rootcacrl`);
  return { tdx: `${root}/tdx/certification/v4`, sgx, rootCaCrl };
}

interface Fetched {
  body: Uint8Array;
  headers: Headers;
}

/**
 * Response caps (docs/tdx-verification.md). Intel's answers are a few KiB (TCB info ~10 KiB, QE identity
 * ~2 KiB, Root CA CRL < 1 KiB); the PCK CRL grows with revocations, so it gets the most room.
 */
export const PCCS_RESPONSE_CAPS = {
  tcbInfo: 1024 * 1024,
  qeIdentity: 256 * 1024,
  pckCrl: 4 * 1024 * 1024,
  rootCaCrl: 1024 * 1024,
} as const;

async function get(url: string, maxBytes: number, opts: PccsClientOptions): Promise<Fetched> {
  let res: BoundedResponse;
  try {
    res = await fetchBounded(url, {
      headers: { accept: '*/*' },
      maxBytes,
      timeoutMs: opts.timeoutMs ?? 10_000,
      readStatuses: [200],
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
  } catch (err) {
    // EgressError messages are fixed sentences (never the peer's words); anything else is reported generically.
    throw new TdxError('CollateralUnavailable', `PCCS request failed: ${err instanceof EgressError ? err.message : `${describeUrl(url)}: request failed`}`);
  }
  // Status code only: an error body is discarded unread.
  if (res.status !== 200) throw new TdxError('CollateralUnavailable', `PCCS request ${describeUrl(url)} returned HTTP ${res.status}`);
  return { body: res.body, headers: res.headers };
}

function chainHeader(f: Fetched, names: string[], url: string): string {
  for (const name of names) {
    const v = f.headers.get(name);
    if (v) {
      try {
        return decodeURIComponent(v);
      } catch {
        throw new TdxError('CollateralUnavailable', `PCCS response ${describeUrl(url)} header ${name} is not URL-encoded PEM`);
      }
    }
  }
  throw new TdxError('CollateralUnavailable', `PCCS response ${describeUrl(url)} has no ${names.join(' / ')} header`);
}

/** Fetches the TDX collateral for one FMSPC and PCK CA type (four requests, in parallel). */
export async function fetchTdxCollateral(opts: PccsClientOptions, fmspc: string, caType: 'platform' | 'processor'): Promise<TdxCollateral> {
  if (!/^[0-9a-fA-F]{12}$/.test(fmspc)) throw new TdxError('CollateralUnavailable', `FMSPC "${fmspc}" is not 6 bytes of hex`);
  const ep = pccsEndpoints(opts);
  const urls = {
    tcb: `${ep.tdx}/tcb?fmspc=${fmspc.toUpperCase()}`,
    qe: `${ep.tdx}/qe/identity`,
    pckCrl: `${ep.sgx}/pckcrl?ca=${caType}&encoding=der`,
    rootCrl: ep.rootCaCrl,
  };
  const [tcb, qe, pckCrl, rootCrl] = await Promise.all([
    get(urls.tcb, PCCS_RESPONSE_CAPS.tcbInfo, opts),
    get(urls.qe, PCCS_RESPONSE_CAPS.qeIdentity, opts),
    get(urls.pckCrl, PCCS_RESPONSE_CAPS.pckCrl, opts),
    get(urls.rootCrl, PCCS_RESPONSE_CAPS.rootCaCrl, opts),
  ]);
  return {
    tcbInfoBody: tcb.body,
    tcbInfoIssuerChain: chainHeader(tcb, ['TCB-Info-Issuer-Chain', 'SGX-TCB-Info-Issuer-Chain'], urls.tcb),
    qeIdentityBody: qe.body,
    qeIdentityIssuerChain: chainHeader(qe, ['SGX-Enclave-Identity-Issuer-Chain'], urls.qe),
    pckCrl: crlBytes(pckCrl.body, 'PCK CRL'),
    pckCrlIssuerChain: chainHeader(pckCrl, ['SGX-PCK-CRL-Issuer-Chain'], urls.pckCrl),
    rootCaCrl: crlBytes(rootCrl.body, 'Root CA CRL'),
  };
}
