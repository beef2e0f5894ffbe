// Wiring for the operator: one caching collateral source per PCCS URL (`collateralFor` of createTdxVerifier).
import { fetchTdxCollateral } from './pccs-client.ts';
import type { PccsClientOptions } from './pccs-client.ts';
import { createCachingCollateralSource } from './collateral-cache.ts';
import type { CachingCollateralSource, CollateralObserver } from './collateral-cache.ts';

export interface PccsSourcesOptions {
  now(): number;
  fetch?: typeof fetch;
  timeoutMs?: number;
  refreshAheadMs?: number;
  rootCaPem?: string;
  /** Root CA CRL URL override (applies to every PCCS). */
  rootCaCrlUrl?: string;
  /** Shared by every PCCS's cache (the operator's metrics). */
  observer?: CollateralObserver;
}

export function createPccsCollateralSources(opts: PccsSourcesOptions): (pccsUrl: string) => CachingCollateralSource {
  const sources = new Map<string, CachingCollateralSource>();
  return (pccsUrl: string) => {
    let source = sources.get(pccsUrl);
    if (!source) {
      const client: PccsClientOptions = { baseUrl: pccsUrl };
      if (opts.fetch) client.fetch = opts.fetch;
      if (opts.timeoutMs !== undefined) client.timeoutMs = opts.timeoutMs;
      if (opts.rootCaCrlUrl) client.rootCaCrlUrl = opts.rootCaCrlUrl;
      source = createCachingCollateralSource({
        fetchCollateral: (fmspc, caType) => fetchTdxCollateral(client, fmspc, caType),
        now: opts.now,
        sourceName: pccsUrl,
        ...(opts.refreshAheadMs !== undefined ? { refreshAheadMs: opts.refreshAheadMs } : {}),
        ...(opts.rootCaPem ? { rootCaPem: opts.rootCaPem } : {}),
        ...(opts.observer ? { observer: opts.observer } : {}),
      });
      sources.set(pccsUrl, source);
    }
    return source;
  };
}
