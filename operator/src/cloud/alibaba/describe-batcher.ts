// Coalesces per-instance DescribeInstances calls: every reconcile describes its agent's instance, and an
// attested agent is re-described every minute to notice a reboot (InstanceInfo.startedAt). One call per agent
// would spend the ECS request budget (--alibaba-rps, default 5/s) on describes at a few hundred agents;
// DescribeInstances takes up to 100 ids, so requests made within a short window share calls (1,000 agents'
// minute re-checks: ~10 calls a minute instead of 1,000).
export interface DescribeBatcherOptions<T> {
  /** One DescribeInstances call for these ids in this region (at most maxIds). */
  fetch(regionId: string, ids: string[]): Promise<T[]>;
  idOf(item: T): string | undefined;
  /** How long a batch stays open after its first request (ms). */
  windowMs: number;
  /** Ids per call (DescribeInstances: 100). */
  maxIds: number;
}

interface Waiter<T> {
  resolve(v: T | undefined): void;
  reject(e: unknown): void;
}

export class DescribeBatcher<T> {
  readonly #o: DescribeBatcherOptions<T>;
  /** Open batches per region: id → the reconciles waiting for it. */
  readonly #open = new Map<string, Map<string, Waiter<T>[]>>();

  constructor(opts: DescribeBatcherOptions<T>) {
    this.#o = opts;
  }

  /** The instance `id` in `regionId`, or undefined when the region has no such instance. */
  describe(regionId: string, id: string): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      let batch = this.#open.get(regionId);
      if (!batch) {
        batch = new Map();
        this.#open.set(regionId, batch);
        setTimeout(() => this.#flush(regionId), this.#o.windowMs).unref();
      }
      const waiters = batch.get(id) ?? [];
      waiters.push({ resolve, reject });
      batch.set(id, waiters);
    });
  }

  #flush(regionId: string): void {
    const batch = this.#open.get(regionId);
    this.#open.delete(regionId);
    if (!batch) return;
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += this.#o.maxIds) {
      const chunk = ids.slice(i, i + this.#o.maxIds);
      // Each call settles only its own ids: a throttled or failed call fails those reconciles (which retry
      // with backoff), not the others.
      this.#o.fetch(regionId, chunk).then(
        (items) => {
          const byId = new Map<string, T>();
          for (const item of items) {
            const id = this.#o.idOf(item);
            if (id !== undefined && !byId.has(id)) byId.set(id, item);
          }
          for (const id of chunk) for (const w of batch.get(id) ?? []) w.resolve(byId.get(id));
        },
        (err: unknown) => {
          for (const id of chunk) for (const w of batch.get(id) ?? []) w.reject(err);
        },
      );
    }
  }
}
