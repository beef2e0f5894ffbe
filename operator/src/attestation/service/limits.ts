// Admission limits of the attestation service: a token bucket per client address (bounded table), a bound
// on verifications in flight with a short queue (beyond it: 503, never an unbounded backlog), and a log
// limiter so a flood of refusals cannot flood the logs. Time is injected.

export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxClients: number;
  constructor(opts: { perSecond: number; burst: number; maxClients?: number }) {
    this.#rate = opts.perSecond;
    this.#burst = opts.burst;
    this.#maxClients = opts.maxClients ?? 10_000;
  }

  /** Takes one token for `client`; false when its bucket is empty. */
  take(client: string, now: number): boolean {
    let b = this.#buckets.get(client);
    if (!b) {
      // A full table is reset rather than grown: forgetting buckets only ever admits more, never less.
      if (this.#buckets.size >= this.#maxClients) this.#buckets.clear();
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(client, b);
    }
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** At most `concurrency` holders at once and `queue` waiters; acquire() resolves to false when both are full. */
export class ConcurrencyGate {
  #active = 0;
  readonly #waiters: Array<() => void> = [];
  readonly #concurrency: number;
  readonly #queue: number;
  constructor(concurrency: number, queue: number) {
    this.#concurrency = concurrency;
    this.#queue = queue;
  }

  get active(): number {
    return this.#active;
  }

  acquire(): Promise<boolean> {
    if (this.#active < this.#concurrency) {
      this.#active++;
      return Promise.resolve(true);
    }
    if (this.#waiters.length >= this.#queue) return Promise.resolve(false);
    return new Promise((resolve) => this.#waiters.push(() => resolve(true)));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else this.#active--;
  }
}

/** At most `max` log lines per key per window; admit() returns undefined to drop, else how many were dropped before. */
export class LogLimiter {
  readonly #windows = new Map<string, { start: number; count: number; dropped: number }>();
  readonly #max: number;
  readonly #windowMs: number;
  constructor(max: number, windowMs: number) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  admit(key: string, now: number): number | undefined {
    let w = this.#windows.get(key);
    if (!w || now - w.start >= this.#windowMs) {
      if (this.#windows.size > 1000) this.#windows.clear();
      w = { start: now, count: 0, dropped: w?.dropped ?? 0 };
      this.#windows.set(key, w);
    }
    if (w.count >= this.#max) {
      w.dropped++;
      return undefined;
    }
    w.count++;
    const dropped = w.dropped;
    w.dropped = 0;
    return dropped;
  }
}
