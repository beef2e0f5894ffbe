// Remembers, for a short time, that ECS refused a launch spec (no stock, quota, unsupported type,
// invalid parameter) - the "unavailable offerings" idea from karpenter. A repeat of the same launch
// within the window gets the very same ProviderError (same code, same request id) with no API call:
// no request storm at the provider, and the controller's condition does not change on every retry.
import { createHash } from 'node:crypto';
import { ProviderError } from '../provider.ts';
import type { RunInstancesParams } from './run-request.ts';

/** Everything that decides whether ECS accepts a launch; not the token, name or ownership tags. */
export function launchKey(p: RunInstancesParams): string {
  const parts = [
    p.regionId,
    p.zoneId,
    p.instanceType,
    p.imageId,
    p.vSwitchId,
    p.securityGroupId,
    p.systemDisk.category,
    String(p.systemDisk.size),
    String(p.internetMaxBandwidthOut),
    p.privateIpAddress ?? '',
    p.confidentialComputingMode ?? '',
    p.userData ?? '',
  ];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

const REMEMBERED = new Set(['Capacity', 'Quota', 'InvalidSpec']);

export class RefusalCache {
  private readonly entries = new Map<string, { error: ProviderError; until: number }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(ttlMs: number, now: () => number) {
    this.ttlMs = ttlMs;
    this.now = now;
  }

  /** Runs `fn` unless this launch was refused recently; remembers a new refusal. */
  async guard<T>(p: RunInstancesParams, fn: () => Promise<T>): Promise<T> {
    const key = launchKey(p);
    const hit = this.entries.get(key);
    if (hit && hit.until > this.now()) throw hit.error;
    if (hit) this.entries.delete(key);
    try {
      return await fn();
    } catch (err) {
      // NotOwned / IdempotentParameterMismatch are about one object, not the launch spec.
      if (err instanceof ProviderError && REMEMBERED.has(err.kind) && err.code !== 'IdempotentParameterMismatch' && this.ttlMs > 0) {
        this.entries.set(key, { error: err, until: this.now() + this.ttlMs });
      }
      throw err;
    }
  }
}
