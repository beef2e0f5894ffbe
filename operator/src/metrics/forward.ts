// Domain metrics from another thread. The KBS runs in a worker (app/kbs-worker.ts) and must not share
// prom-client with the main thread: the worker gets a recorder that batches calls into plain messages,
// and the main thread replays them into its DomainMetrics. Only the methods listed here cross, and
// DomainMetrics bounds every label again on the main side.
import type { DomainMetrics } from './domain.ts';

export const FORWARDED = ['attestation', 'verification', 'release', 'kbsRequest', 'kbsSessions', 'collateral', 'pccsFetched', 'servingStale', 'rimCertExpiry'] as const;
export type ForwardedMethod = (typeof FORWARDED)[number];
/** What the KBS side records: a subset of DomainMetrics. */
export type MetricsRecorder = Pick<DomainMetrics, ForwardedMethod>;
/** One recorded call (structured-clone safe: strings, numbers, booleans, Dates). */
export type MetricCall = [ForwardedMethod, ...unknown[]];

const MAX_BATCH = 500;
const FLUSH_MS = 200;

/** A recorder that posts batches of calls (at most every 200 ms, or at 500 calls). */
export function forwardingRecorder(post: (calls: MetricCall[]) => void): MetricsRecorder & { flush(): void } {
  let batch: MetricCall[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (batch.length === 0) return;
    const out = batch;
    batch = [];
    post(out);
  };
  const record = (call: MetricCall) => {
    batch.push(call);
    if (batch.length >= MAX_BATCH) flush();
    else if (!timer) {
      timer = setTimeout(flush, FLUSH_MS);
      timer.unref();
    }
  };
  const recorder = Object.fromEntries(FORWARDED.map((m) => [m, (...args: unknown[]) => record([m, ...args])])) as unknown as MetricsRecorder;
  return Object.assign(recorder, { flush });
}

const isForwarded = (m: unknown): m is ForwardedMethod => typeof m === 'string' && (FORWARDED as readonly string[]).includes(m);
const isArg = (a: unknown) => a === undefined || typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean' || a instanceof Date;

/** Applies calls received from a worker; anything that is not a listed method with plain arguments is dropped. */
export function replayMetrics(metrics: MetricsRecorder, calls: unknown): void {
  if (!Array.isArray(calls)) return;
  for (const call of calls.slice(0, MAX_BATCH) as unknown[]) {
    if (!Array.isArray(call) || call.length > 4 || !isForwarded(call[0]) || !call.slice(1).every(isArg)) continue;
    const [method, ...args] = call as [ForwardedMethod, ...unknown[]];
    try {
      (metrics[method] as (...a: unknown[]) => void).apply(metrics, args);
    } catch {
      // a malformed argument (e.g. not a Date) records nothing
    }
  }
}
