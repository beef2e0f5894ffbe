// A TdxCollateralSource with a cache keyed by FMSPC (and PCK CA type). Fetched collateral is verified before
// it is cached; it is served until its earliest nextUpdate/notAfter, refreshed once `refreshAheadMs` before
// that, and, while the PCCS is down or returns collateral that fails verification, the verified unexpired copy
// keeps being served with a warning that says so.
import { TdxError } from './errors.ts';
import type { TdxCollateral } from './collateral.ts';
import { collateralExpiry, verifyCollateral } from './collateral.ts';
import { checkWindow, parsePemChain } from './x509.ts';
import type { Cert } from './x509.ts';
import { INTEL_SGX_ROOT_CA_PEM } from './intel-root-ca.ts';
import type { TdxCollateralRequest, TdxCollateralResult, TdxCollateralSource } from './collateral-source.ts';

export interface CachingCollateralSourceOptions {
  /** Fetches fresh collateral (e.g. `fetchTdxCollateral` bound to a PCCS URL). */
  fetchCollateral(fmspc: string, caType: 'platform' | 'processor'): Promise<TdxCollateral>;
  /** Wall clock in ms (injected). */
  now(): number;
  /** Refresh this long before the collateral expires (default 24 h). */
  refreshAheadMs?: number;
  /** Name used in warnings, e.g. the PCCS URL. */
  sourceName: string;
  rootCaPem?: string;
  /** Told about each verified fetch and whether a stale copy is being served (the operator's metrics). */
  observer?: CollateralObserver;
}

export type CollateralKind = 'tcb_info' | 'qe_identity' | 'pck_crl' | 'root_ca_crl';
export interface CollateralObserver {
  /** A fetch for `fmspc` verified; `nextUpdates` of each part of it. */
  fetched(fmspc: string, nextUpdates: Array<{ kind: CollateralKind; at: Date }>, at: Date): void;
  /** Whether the last lookup was answered from cache because the PCCS failed. */
  servingStale(stale: boolean): void;
}

interface Entry {
  collateral: TdxCollateral;
  expiresAt: number;
  fetchedAt: number;
  nextUpdates: Array<{ kind: CollateralKind; at: Date }>;
}

const KIND_OF: Record<string, CollateralKind> = { 'TCB Info': 'tcb_info', 'QE Identity': 'qe_identity', 'PCK CRL': 'pck_crl', 'Root CA CRL': 'root_ca_crl' };

export interface CachingCollateralSource extends TdxCollateralSource {
  /** Cache state for status reporting: key → expiry, and since when the PCCS has been failing. */
  snapshot(): { key: string; expiresAt: string; fetchedAt: string }[];
  unreachableSince(): Date | undefined;
}

export function createCachingCollateralSource(opts: CachingCollateralSourceOptions): CachingCollateralSource {
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Entry>>();
  const refreshAhead = opts.refreshAheadMs ?? 24 * 3600_000;
  let failingSince: number | undefined;
  let root: Cert | undefined;

  async function fetchVerified(fmspc: string, caType: 'platform' | 'processor', at: Date): Promise<Entry> {
    const collateral = await opts.fetchCollateral(fmspc, caType);
    root ??= parsePemChain(opts.rootCaPem ?? INTEL_SGX_ROOT_CA_PEM, 'pinned root CA')[0] as Cert;
    let verified;
    try {
      verified = verifyCollateral(collateral, root);
      for (const w of verified.windows) checkWindow(w, at);
    } catch (err) {
      if (err instanceof TdxError) throw new TdxError(err.code, `${opts.sourceName} returned collateral that failed verification: ${err.message}`);
      throw err;
    }
    const tcbFmspc = verified.tcbInfo.fmspc.toLowerCase();
    if (tcbFmspc !== fmspc.toLowerCase()) throw new TdxError('FmspcMismatch', `${opts.sourceName} returned TCB Info for FMSPC ${tcbFmspc}, asked for ${fmspc}`);
    // The signed documents' own validity windows. The chains' certificate windows are not "collateral": they are
    // named `… certificate "<CN>"`, which is no key of KIND_OF.
    const nextUpdates = verified.windows.flatMap((w) => {
      const kind = KIND_OF[w.what];
      return kind ? [{ kind, at: w.notAfter }] : [];
    });
    return { collateral, expiresAt: collateralExpiry(verified).getTime(), fetchedAt: opts.now(), nextUpdates };
  }

  function refresh(key: string, req: TdxCollateralRequest): Promise<Entry> {
    let p = inflight.get(key);
    if (!p) {
      p = fetchVerified(req.fmspc, req.caType, req.at).finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    return p;
  }

  return {
    async get(req: TdxCollateralRequest): Promise<TdxCollateralResult> {
      const key = `${req.fmspc.toLowerCase()}/${req.caType}`;
      const now = opts.now();
      const cached = entries.get(key);
      const usable = cached && now < cached.expiresAt && req.at.getTime() < cached.expiresAt ? cached : undefined;
      if (usable && now < usable.expiresAt - refreshAhead) return { collateral: usable.collateral, warnings: [] };
      try {
        const fresh = await refresh(key, req);
        entries.set(key, fresh);
        failingSince = undefined;
        opts.observer?.fetched(req.fmspc, fresh.nextUpdates, new Date(fresh.fetchedAt));
        opts.observer?.servingStale(false);
        return { collateral: fresh.collateral, warnings: [] };
      } catch (err) {
        failingSince ??= now;
        const reason = err instanceof Error ? err.message : String(err);
        opts.observer?.servingStale(usable !== undefined);
        if (usable) {
          const since = new Date(failingSince).toISOString();
          return {
            collateral: usable.collateral,
            warnings: [`collateral served from cache, PCCS unreachable since ${since} (${reason}); cached collateral expires at ${new Date(usable.expiresAt).toISOString()}`],
          };
        }
        if (err instanceof TdxError && err.code !== 'CollateralUnavailable') throw err;
        const stale = cached ? `; the cached collateral expired at ${new Date(cached.expiresAt).toISOString()}` : '';
        throw new TdxError('CollateralUnavailable', `no verified unexpired collateral for FMSPC ${req.fmspc}: ${reason}${stale}`);
      }
    },
    snapshot: () =>
      [...entries].map(([key, e]) => ({ key, expiresAt: new Date(e.expiresAt).toISOString(), fetchedAt: new Date(e.fetchedAt).toISOString() })),
    unreachableSince: () => (failingSince === undefined ? undefined : new Date(failingSince)),
  };
}
