// Lease-based leader election with client-go's algorithm and timings (tools/leaderelection):
//  - acquire: GET the Lease (create it if missing); if another holder's record was last seen changing
//    less than leaseDuration ago, wait retryPeriod (jittered x1.2) and retry; otherwise PUT it with the
//    read resourceVersion (409 = someone else won) as holder, bumping leaseTransitions on a change of holder;
//  - renew every retryPeriod; if no renewal succeeds for renewDeadline, or the Lease shows another holder,
//    step down (onStoppedLeading) — the caller stops its workers and exits or re-campaigns;
//  - expiry is judged on the LOCAL time at which the record was last seen to change (not the holder's
//    renewTime), so clock skew between replicas does not matter;
//  - release on graceful stop: holder cleared and leaseDurationSeconds=1 so a successor takes over at once.
// Pitfall: Lease times are metav1.MicroTime; client-node only writes 6 fractional digits for V1MicroTime
// instances (a plain Date gives 3 and the API server rejects it), so every time written is a V1MicroTime.

import { V1MicroTime, type CoordinationV1Api, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { realClock, sleep, type Clock } from './clock.ts';
import { describeError, httpStatusOf, RuntimeError } from './errors.ts';

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number; // 15 s (controller-runtime default)
  renewDeadlineMs?: number; // 10 s
  retryPeriodMs?: number; // 2 s
}

export interface LeaderElectorOptions {
  api: CoordinationV1Api;
  config: LeaderElectionConfig;
  logger: Logger;
  clock?: Clock;
  /** Called with 1/0 as leadership starts/ends (leader_election_master_status). */
  onStatus?: (leading: boolean) => void;
  /** Called whenever a different holder is observed. */
  onNewLeader?: (identity: string) => void;
}

const JITTER = 1.2;

interface ObservedRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

export class LeaderElector {
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly #o: LeaderElectorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  #leading = false;
  #observed: ObservedRecord | undefined;
  #observedAt = 0;
  #lastLeader = '';

  constructor(opts: LeaderElectorOptions) {
    const c = opts.config;
    this.identity = c.identity;
    this.leaseDurationMs = c.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = c.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = c.retryPeriodMs ?? 2_000;
    if (!c.identity) throw new RuntimeError('INVALID_ARGUMENT', 'leader election: identity must not be empty');
    if (!c.namespace || !c.name) throw new RuntimeError('INVALID_ARGUMENT', 'leader election: lease namespace and name are required');
    if (!(this.leaseDurationMs > this.renewDeadlineMs)) {
      throw new RuntimeError('INVALID_ARGUMENT', `leader election: leaseDurationMs (${this.leaseDurationMs}) must be greater than renewDeadlineMs (${this.renewDeadlineMs})`);
    }
    if (!(this.renewDeadlineMs > JITTER * this.retryPeriodMs)) {
      throw new RuntimeError('INVALID_ARGUMENT', `leader election: renewDeadlineMs (${this.renewDeadlineMs}) must be greater than 1.2 x retryPeriodMs (${this.retryPeriodMs})`);
    }
    if (this.leaseDurationMs < 1000) throw new RuntimeError('INVALID_ARGUMENT', 'leader election: leaseDurationMs must be at least 1000 (the Lease counts whole seconds)');
    this.#o = opts;
    this.#clock = opts.clock ?? realClock;
    this.#log = opts.logger.child({ lease: `${c.namespace}/${c.name}`, identity: c.identity });
  }

  isLeader(): boolean {
    return this.#leading;
  }

  /** The holder seen in the Lease at the last attempt ('' if none). */
  observedLeader(): string {
    return this.#observed?.holderIdentity ?? '';
  }

  /**
   * Waits until this identity holds the Lease. Resolves true when leading, false if signal aborted first.
   */
  async acquire(signal: AbortSignal): Promise<boolean> {
    this.#log.info('campaigning for leadership');
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew()) {
        this.#setLeading(true);
        this.#log.info('became leader');
        return true;
      }
      try {
        await sleep(this.#clock, this.retryPeriodMs * (1 + Math.random() * (JITTER - 1)), signal);
      } catch {
        break;
      }
    }
    return false;
  }

  /**
   * Keeps renewing while leading. Resolves 'lost' when renewals failed for renewDeadline (or another holder
   * took the Lease), or 'stopped' when signal aborts (still holding: call release()).
   */
  async renewLoop(signal: AbortSignal): Promise<'lost' | 'stopped'> {
    let lastRenew = this.#clock.now();
    while (!signal.aborted) {
      try {
        await sleep(this.#clock, this.retryPeriodMs, signal);
      } catch {
        break;
      }
      const remaining = lastRenew + this.renewDeadlineMs - this.#clock.now();
      const ok = await this.tryAcquireOrRenew(Math.max(100, Math.min(remaining, this.renewDeadlineMs / 2)));
      if (signal.aborted) break;
      if (ok) {
        lastRenew = this.#clock.now();
        continue;
      }
      const stolen = this.#observed !== undefined && this.#observed.holderIdentity !== '' && this.#observed.holderIdentity !== this.identity;
      if (stolen || this.#clock.now() - lastRenew >= this.renewDeadlineMs) {
        this.#setLeading(false);
        this.#log.error({ holder: this.#observed?.holderIdentity, sinceLastRenewMs: this.#clock.now() - lastRenew }, stolen ? 'leadership lost: another holder took the lease' : 'leadership lost: failed to renew the lease within the renew deadline');
        return 'lost';
      }
    }
    return 'stopped';
  }

  /** One acquire-or-renew attempt (client-go tryAcquireOrRenew); never throws. */
  async tryAcquireOrRenew(timeoutMs = this.renewDeadlineMs / 2): Promise<boolean> {
    const { api, config } = this.#o;
    const now = this.#clock.now();
    const spec = (holder: string, acquireTime: Date, transitions: number): V1LeaseSpec => ({
      holderIdentity: holder,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: new V1MicroTime(acquireTime.getTime()),
      renewTime: new V1MicroTime(now),
      leaseTransitions: transitions,
    });
    let lease: V1Lease;
    try {
      lease = await withTimeout(api.readNamespacedLease({ name: config.name, namespace: config.namespace }), timeoutMs, 'read lease');
    } catch (err) {
      if (httpStatusOf(err) !== 404) {
        this.#log.warn({ err: describeError(err) }, 'reading the lease failed');
        return false;
      }
      try {
        const body: V1Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: config.name, namespace: config.namespace }, spec: spec(this.identity, new Date(now), 0) };
        const created = await withTimeout(api.createNamespacedLease({ namespace: config.namespace, body }), timeoutMs, 'create lease');
        this.#observe(created.spec, this.#clock.now());
        return true;
      } catch (e) {
        this.#log.info({ err: describeError(e) }, 'creating the lease failed (another candidate may have won)');
        return false;
      }
    }
    const old = lease.spec ?? {};
    this.#observe(old, now);
    const holder = old.holderIdentity ?? '';
    const observed = this.#observed;
    if (holder && holder !== this.identity && observed && this.#observedAt + observed.leaseDurationSeconds * 1000 > now) {
      return false; // held by someone else and not expired
    }
    const mine = holder === this.identity;
    const acquireTime = mine && old.acquireTime ? new Date(old.acquireTime) : new Date(now);
    const transitions = (old.leaseTransitions ?? 0) + (mine ? 0 : 1);
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: config.name, namespace: config.namespace, resourceVersion: lease.metadata?.resourceVersion ?? '' },
      spec: spec(this.identity, acquireTime, transitions),
    };
    try {
      const updated = await withTimeout(api.replaceNamespacedLease({ name: config.name, namespace: config.namespace, body }), timeoutMs, 'update lease');
      this.#observe(updated.spec, this.#clock.now());
      return true;
    } catch (err) {
      this.#log.info({ err: describeError(err) }, httpStatusOf(err) === 409 ? 'lease update lost a race (409)' : 'lease update failed');
      return false;
    }
  }

  /** Gives the Lease up so a successor need not wait for expiry (client-go ReleaseOnCancel). */
  async release(): Promise<void> {
    if (!this.#leading) return;
    this.#setLeading(false);
    const { api, config } = this.#o;
    try {
      const lease = await withTimeout(api.readNamespacedLease({ name: config.name, namespace: config.namespace }), this.renewDeadlineMs / 2, 'read lease');
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = new V1MicroTime(this.#clock.now());
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: config.name, namespace: config.namespace, resourceVersion: lease.metadata?.resourceVersion ?? '' },
        spec: { leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: lease.spec.leaseTransitions ?? 0 },
      };
      await withTimeout(api.replaceNamespacedLease({ name: config.name, namespace: config.namespace, body }), this.renewDeadlineMs / 2, 'release lease');
      this.#log.info('released the lease');
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'releasing the lease failed; it will expire on its own');
    }
  }

  #setLeading(v: boolean): void {
    if (this.#leading === v) return;
    this.#leading = v;
    this.#o.onStatus?.(v);
  }

  #observe(spec: V1LeaseSpec | undefined, at: number): void {
    const rec: ObservedRecord = {
      holderIdentity: spec?.holderIdentity ?? '',
      leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
      acquireTime: spec?.acquireTime ? new Date(spec.acquireTime).toISOString() : '',
      renewTime: spec?.renewTime ? new Date(spec.renewTime).toISOString() : '',
      leaseTransitions: spec?.leaseTransitions ?? 0,
    };
    const o = this.#observed;
    if (!o || o.holderIdentity !== rec.holderIdentity || o.renewTime !== rec.renewTime || o.acquireTime !== rec.acquireTime || o.leaseDurationSeconds !== rec.leaseDurationSeconds || o.leaseTransitions !== rec.leaseTransitions) {
      this.#observed = rec;
      this.#observedAt = at;
    }
    if (rec.holderIdentity && rec.holderIdentity !== this.#lastLeader) {
      this.#lastLeader = rec.holderIdentity;
      if (rec.holderIdentity !== this.identity) this.#log.info({ leader: rec.holderIdentity }, 'new leader observed');
      this.#o.onNewLeader?.(rec.holderIdentity);
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let cancel: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(new RuntimeError('TIMEOUT', `${what}: no answer within ${Math.round(ms)} ms`)), ms);
    t.unref();
    cancel = () => clearTimeout(t);
  });
  return Promise.race([p, timeout]).finally(() => cancel?.());
}
