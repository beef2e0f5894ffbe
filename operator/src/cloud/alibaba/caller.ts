// Every ECS request goes through `EcsCaller.call`: token bucket first, one SDK attempt, classification,
// and a short bounded retry for Retryable errors (throttling pauses the whole bucket). After the last
// attempt the Retryable ProviderError goes to the controller, which requeues with its own backoff.
import type { Logger } from 'pino';
import type { ProviderError } from '../provider.ts';
import { classifyError, isThrottlingCode, registerSecret } from './errors.ts';
import { createEcsClient, defaultCredential, type EcsClient, type SdkCredential } from './sdk.ts';
import { TokenBucket } from './token-bucket.ts';

export interface RetryPolicy {
  /** Attempts per call, including the first (default 4). */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** What the caller reports per attempt (DomainMetrics implements it; the caller imports no metrics library). */
export interface CloudApiMetrics {
  cloudRequest(provider: string, action: string, code: string): void;
  cloudThrottled(provider: string, action: string): void;
  cloudRateLimitWait(provider: string, seconds: number): void;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 250, maxDelayMs: 8_000 };

export interface CallerOptions {
  client: EcsClient;
  credential: SdkCredential;
  bucket: TokenBucket;
  retry: RetryPolicy;
  logger: Logger | undefined;
  sleep: (ms: number) => Promise<void>;
  random?: () => number;
  metrics?: CloudApiMetrics;
}

export interface CallOptions {
  /** Codes that are an expected answer, returned to the caller instead of retried/thrown (e.g. DryRunOperation). */
  expectCodes?: readonly string[];
  /** Override attempts for this call (1 = no retry). */
  maxAttempts?: number;
}

/** Full-jitter exponential backoff: random in [0, min(max, base * 2^attempt)]. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.max(policy.baseDelayMs / 2, Math.floor(random() * cap));
}

export type CallResult<T> = { ok: true; value: T } | { ok: false; error: ProviderError };

export class EcsCaller {
  readonly client: EcsClient;
  private readonly opts: CallerOptions;

  constructor(opts: CallerOptions) {
    this.opts = opts;
    this.client = opts.client;
  }

  /** Runs one ECS action with rate limiting and bounded retries; throws ProviderError. */
  async call<T>(action: string, fn: (client: EcsClient) => Promise<T>, callOpts: CallOptions = {}): Promise<T> {
    const r = await this.attempt(action, fn, callOpts);
    if (r.ok) return r.value;
    throw r.error;
  }

  /** Like call, but codes listed in expectCodes come back as `{ ok: false }` instead of throwing. */
  async attempt<T>(action: string, fn: (client: EcsClient) => Promise<T>, callOpts: CallOptions = {}): Promise<CallResult<T>> {
    const { bucket, retry, logger, sleep, metrics } = this.opts;
    const maxAttempts = Math.max(1, callOpts.maxAttempts ?? retry.maxAttempts);
    for (let attempt = 0; ; attempt++) {
      await this.rememberSecrets();
      const waitStart = performance.now();
      await bucket.take();
      metrics?.cloudRateLimitWait('alibaba', (performance.now() - waitStart) / 1000);
      try {
        const value = await fn(this.client);
        bucket.succeeded();
        metrics?.cloudRequest('alibaba', action, 'OK');
        logger?.debug({ action, attempt }, 'ecs call ok');
        return { ok: true, value };
      } catch (err) {
        const error = classifyError(err, action);
        metrics?.cloudRequest('alibaba', action, error.code);
        if (isThrottlingCode(error.code)) {
          metrics?.cloudThrottled('alibaba', action);
          bucket.throttled(backoffDelay(attempt, retry, this.opts.random));
        }
        else if (error.kind !== 'Retryable') bucket.succeeded(); // the API answered; only our request was refused
        if (callOpts.expectCodes?.includes(error.code)) return { ok: false, error };
        const last = attempt + 1 >= maxAttempts || error.kind !== 'Retryable';
        logger?.warn({ action, attempt, kind: error.kind, code: error.code, requestId: error.requestId, willRetry: !last }, 'ecs call failed');
        if (last) return { ok: false, error };
        await sleep(backoffDelay(attempt, retry, this.opts.random));
      }
    }
  }

  /** Resolves the credential once per call so its values can be scrubbed from any later error text. */
  private async rememberSecrets(): Promise<void> {
    try {
      const c = await this.opts.credential.getCredential();
      registerSecret(c.accessKeyId);
      registerSecret(c.accessKeySecret);
      registerSecret(c.securityToken);
    } catch {
      // The SDK call that follows fails with a classified Auth error; nothing to remember.
    }
  }
}

export interface EcsCallerFactoryOptions {
  regionId: string;
  endpoint?: string;
  protocol?: 'http' | 'https';
  credential?: SdkCredential;
  /** Share one bucket between callers of one provider; otherwise a new one at requestsPerSecond. */
  bucket?: TokenBucket;
  requestsPerSecond?: number;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  metrics?: CloudApiMetrics;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A rate-limited, classifying ECS caller for one region (used by the provider, the SG helper and the CLI). */
export function createEcsCaller(o: EcsCallerFactoryOptions): EcsCaller {
  const credential = o.credential ?? defaultCredential();
  const sleep = o.sleep ?? realSleep;
  const client = createEcsClient({
    regionId: o.regionId,
    credential,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.protocol ? { protocol: o.protocol } : {}),
  });
  const bucket = o.bucket ?? new TokenBucket({ ratePerSecond: o.requestsPerSecond ?? 5, sleep, ...(o.now ? { now: o.now } : {}) });
  return new EcsCaller({ client, credential, bucket, retry: { ...DEFAULT_RETRY, ...o.retry }, logger: o.logger, sleep, ...(o.metrics ? { metrics: o.metrics } : {}) });
}
