// Fault injection for the simulator. Tests (and `make dev`) flip these to reproduce what the real ECS
// API does on a bad day: throttling storms, sold-out zones, quota, conflicts, slow state changes, and
// responses lost after the action already took effect.
import type { SimState, StockStatus } from './state.ts';

export interface FaultRule {
  /** Action this applies to; undefined = every action. */
  action?: string;
  code: string;
  status: number;
  message: string;
  /** How many more requests it hits (Infinity = until cleared). */
  remaining: number;
}

export interface FaultDecision {
  status: number;
  code: string;
  message: string;
}

/**
 * How a response is garbled after the action took effect (a broken proxy, a truncated read, an API bug):
 *   truncated     the JSON cut off part-way;       not-json      an HTML error page with status 200;
 *   empty         200 and no body;                  wrong-types   every array/object/number replaced by a string;
 *   contradictory a well-formed body that disagrees with itself (RunInstances names an instance that does not
 *                 exist; DescribeInstances lists an instance twice in different states, TotalCount wrong);
 *   5xx-after     status 503 though the action took effect.
 */
export type MangleMode = 'truncated' | 'not-json' | 'empty' | 'wrong-types' | 'contradictory' | '5xx-after';
export const MANGLE_MODES: readonly MangleMode[] = ['truncated', 'not-json', 'empty', 'wrong-types', 'contradictory', '5xx-after'];

const THROTTLE_MESSAGE = 'Request was denied due to user flow control.';

export class Faults {
  readonly rules: FaultRule[] = [];
  /** action -> how many more successful responses to drop (the action still takes effect). */
  readonly drops = new Map<string, number>();
  /** Responses to garble (in order), each for an action or any action. */
  readonly mangles: Array<{ action?: string; mode: MangleMode }> = [];
  /** Server-side flow control: a request is throttled when this many were admitted in the last second. */
  rateLimitPerSecond: number | undefined;
  /** Every request is throttled until this time (ms since epoch, simulator clock). */
  throttleUntil = 0;
  private readonly state: SimState;
  private readonly recent: number[] = [];

  constructor(state: SimState) {
    this.state = state;
  }

  /** The next `count` requests (of `action`, or of any action) fail with this code. */
  fail(code: string, opts: { action?: string; count?: number; status?: number; message?: string } = {}): void {
    this.rules.push({
      ...(opts.action ? { action: opts.action } : {}),
      code,
      status: opts.status ?? 400,
      message: opts.message ?? `Injected fault: ${code}`,
      remaining: opts.count ?? 1,
    });
  }

  /** A burst of `count` Throttling.User answers. */
  throttleBurst(count: number, action?: string): void {
    this.fail('Throttling.User', { count, status: 400, message: THROTTLE_MESSAGE, ...(action ? { action } : {}) });
  }

  /** Throttle every request for the next `ms` milliseconds. */
  throttleFor(ms: number): void {
    this.throttleUntil = this.state.now() + ms;
  }

  /** Server-side flow control: requests beyond `perSecond` admitted in any sliding second get Throttling.User. */
  rateLimit(perSecond: number | undefined): void {
    this.rateLimitPerSecond = perSecond;
  }

  /** OperationConflict for the next `count` requests of an action. */
  conflict(action: string, count = 1): void {
    this.fail('OperationConflict', { action, count, status: 409, message: 'The operation conflicts with another ongoing operation on the same resource.' });
  }

  /** The next `count` successful responses of `action` are dropped (connection reset) after taking effect. */
  dropResponses(action: string, count = 1): void {
    this.drops.set(action, (this.drops.get(action) ?? 0) + count);
  }

  /** The next `count` successful responses (of `action`, or of any action) are garbled this way. */
  mangle(mode: MangleMode, opts: { action?: string; count?: number } = {}): void {
    for (let i = 0; i < (opts.count ?? 1); i++) this.mangles.push({ mode, ...(opts.action ? { action: opts.action } : {}) });
  }

  /** After a successful action: how to garble its response, if at all. Consumes one. */
  mangleAfter(action: string): MangleMode | undefined {
    const i = this.mangles.findIndex((m) => m.action === undefined || m.action === action);
    if (i < 0) return undefined;
    return this.mangles.splice(i, 1)[0]!.mode;
  }

  noStock(zoneId: string, instanceType: string, stock: StockStatus = 'WithoutStock'): void {
    const zone = (this.state.catalog[zoneId] ??= {});
    zone[instanceType] = stock;
  }

  /** Remove a type from a zone's offer ("not supported here"). */
  unsupported(zoneId: string, instanceType: string): void {
    delete this.state.catalog[zoneId]?.[instanceType];
  }

  /** At most `maxInstances` live instances; beyond that RunInstances fails with QuotaExceed.ElasticQuota. */
  quota(maxInstances: number): void {
    this.state.maxInstances = maxInstances;
  }

  /** Multiply every state-transition (and image import) duration. */
  slowTransitions(factor: number): void {
    this.state.slowFactor = factor;
  }

  /** Importing this OSS object ends in CreateFailed. */
  failImageImport(ossObject: string): void {
    this.state.failingImports.add(ossObject);
  }

  clear(): void {
    this.rules.length = 0;
    this.drops.clear();
    this.mangles.length = 0;
    this.rateLimitPerSecond = undefined;
    this.throttleUntil = 0;
    this.state.maxInstances = Number.POSITIVE_INFINITY;
    this.state.slowFactor = 1;
  }

  /** Decides, before the action runs, whether this request fails. Consumes rules. */
  before(action: string): FaultDecision | undefined {
    const t = this.state.now();
    while (this.recent.length > 0 && (this.recent[0] ?? t) <= t - 1000) this.recent.shift();
    if (t < this.throttleUntil) return { status: 400, code: 'Throttling.User', message: THROTTLE_MESSAGE };
    if (this.rateLimitPerSecond !== undefined && this.recent.length >= this.rateLimitPerSecond) {
      return { status: 400, code: 'Throttling.User', message: THROTTLE_MESSAGE };
    }
    this.recent.push(t); // admitted by flow control
    const i = this.rules.findIndex((r) => r.remaining > 0 && (r.action === undefined || r.action === action));
    if (i < 0) return undefined;
    const rule = this.rules[i]!;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rules.splice(i, 1);
    return { status: rule.status, code: rule.code, message: rule.message };
  }

  /** After a successful action: should its response be dropped? Consumes one drop. */
  dropAfter(action: string): boolean {
    const n = this.drops.get(action) ?? 0;
    if (n <= 0) return false;
    this.drops.set(action, n - 1);
    return true;
  }
}
