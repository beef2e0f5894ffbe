// Per-provider token bucket: every ECS request takes a token first, so no reconcile storm (many agents,
// requeues, a throttling burst) can push our request rate past `ratePerSecond` (+ the burst). It is
// adaptive (AIMD): a throttling answer pauses the bucket and halves the current rate, so all callers
// back off together; each success earns a tenth of the configured rate back.

export interface TokenBucketOptions {
  ratePerSecond: number;
  /** Tokens available at once; defaults to ratePerSecond (at least 1). */
  burst?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Current (adaptive) rate: between ratePerSecond / 16 and ratePerSecond. */
  private rate: number;
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Serializes waiters so tokens are granted in arrival order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(opts: TokenBucketOptions) {
    if (!(opts.ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0, got ${opts.ratePerSecond}`);
    this.ratePerSecond = opts.ratePerSecond;
    this.rate = opts.ratePerSecond;
    this.burst = Math.max(1, Math.floor(opts.burst ?? opts.ratePerSecond));
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Waits until a token is available, then consumes it. */
  take(): Promise<void> {
    const turn = this.queue.then(() => this.takeNow());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** The rate tokens are currently granted at (requests per second). */
  get currentRate(): number {
    return this.rate;
  }

  /** A throttling answer: stop granting tokens for `ms`, drop the saved-up burst, halve the rate. */
  throttled(ms: number): void {
    this.refill();
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
    this.tokens = Math.min(this.tokens, 0);
    this.rate = Math.max(this.ratePerSecond / 16, this.rate / 2);
  }

  /** A request went through: recover towards the configured rate. */
  succeeded(): void {
    this.refill();
    this.rate = Math.min(this.ratePerSecond, this.rate + this.ratePerSecond / 10);
  }

  private refill(): void {
    const t = this.now();
    const earned = (Math.max(0, t - this.last) / 1000) * this.rate;
    this.tokens = Math.min(this.burst, this.tokens + earned);
    this.last = t;
  }

  private async takeNow(): Promise<void> {
    for (;;) {
      const pause = this.pausedUntil - this.now();
      if (pause > 0) {
        await this.sleep(pause);
        this.last = Math.max(this.last, this.pausedUntil);
        continue;
      }
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.sleep(Math.ceil(((1 - this.tokens) / this.rate) * 1000));
    }
  }
}
