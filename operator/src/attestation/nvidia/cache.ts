// Memoization of the pure, expensive verifications (device chains, RIM signatures + chains), keyed by
// the exact bytes and the root. A cached result is reused only for times inside the window in which it
// was proven; outside it the check runs again (and fails with its precise reason).
import { createHash } from 'node:crypto';
import { LruCache } from './lru.ts';
import { verifyRim, type VerifiedRim } from './rim.ts';
import { parsePemChain, verifyChain, type ChainWindow, type ParsedCert } from './x509-chain.ts';

function digest(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

const inside = (w: ChainWindow, at: Date): boolean => at >= w.notBefore && at <= w.notAfter;

/** Told the earliest RIM signing-chain expiry among the cached RIMs after each new one (the operator's metrics). */
export interface RimCacheObserver {
  rimSigningExpiry(earliestNotAfter: Date): void;
}

export class VerificationCache {
  private readonly chains: LruCache<string, ParsedCert[]>;
  private readonly chainWindows: LruCache<string, ChainWindow>;
  private readonly rims: LruCache<string, VerifiedRim>;
  private readonly observer: RimCacheObserver | undefined;

  constructor(size = 512, observer?: RimCacheObserver) {
    this.chains = new LruCache(size);
    this.chainWindows = new LruCache(size);
    this.rims = new LruCache(size);
    this.observer = observer;
  }

  /** Parsed PEM chain (parsing is the costly part of small chains). */
  parseChain(pem: string): ParsedCert[] {
    const key = digest(pem);
    const hit = this.chains.get(key);
    if (hit) return hit;
    const chain = parsePemChain(pem, 'device certificate chain');
    this.chains.set(key, chain);
    return chain;
  }

  verifyDeviceChain(chain: ParsedCert[], root: ParsedCert, at: Date): ChainWindow {
    const key = digest(root.der, ...chain.map((c) => c.der));
    const hit = this.chainWindows.get(key);
    if (hit && inside(hit, at)) return hit;
    const window = verifyChain(chain, root, at, 'device');
    this.chainWindows.set(key, window);
    return window;
  }

  verifyRim(xml: string, root: ParsedCert, at: Date, label: string): VerifiedRim {
    const key = digest(root.der, xml);
    const hit = this.rims.get(key);
    if (hit && inside(hit.window, at)) return hit;
    const verified = verifyRim(xml, root, at, label);
    this.rims.set(key, verified);
    if (this.observer) {
      let earliest = verified.window.notAfter;
      for (const r of this.rims.values()) if (r.window.notAfter < earliest) earliest = r.window.notAfter;
      this.observer.rimSigningExpiry(earliest);
    }
    return verified;
  }
}
