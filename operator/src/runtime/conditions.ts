// kstatus-compatible conditions (metav1.Condition shape). lastTransitionTime changes only when the
// status changes; reason/message/observedGeneration follow the latest evaluation. Pure: time is passed in.

/** metav1.Condition as it travels on the wire (the runtime knows no project API; api/ has the schema). */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}
export type ConditionStatus = Condition['status'];

export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

const REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/; // metav1.Condition reason pattern
const MAX_MESSAGE = 32768;

/** metav1.Time format: RFC 3339 at second precision. */
export function formatTime(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Reasons must match the metav1.Condition pattern or the API server rejects the whole status write.
 * Reasons often come from error codes (`TDX_QUOTE.BAD_SIG`), so map stray characters instead of failing.
 */
export function normalizeReason(reason: string): string {
  let r = reason.replace(/[^A-Za-z0-9_,:]/g, '_').replace(/^[^A-Za-z]+/, '').replace(/[,:]+$/, '');
  if (r.length > 1024) r = r.slice(0, 1024).replace(/[,:]+$/, '');
  return REASON.test(r) ? r : 'Unspecified';
}

/** Returns a new list with c set; the input is not modified. */
export function setCondition(
  conds: readonly Condition[] | undefined,
  c: ConditionUpdate,
  generation: number | undefined,
  now: Date,
): Condition[] {
  if (!c.type) throw new TypeError('setCondition: condition type must be a non-empty string');
  if (c.status !== 'True' && c.status !== 'False' && c.status !== 'Unknown') {
    throw new TypeError(`setCondition: status of ${c.type} must be True, False or Unknown, got ${String(c.status)}`);
  }
  const list = [...(conds ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: c.type,
    status: c.status,
    reason: normalizeReason(c.reason),
    message: c.message.length > MAX_MESSAGE ? c.message.slice(0, MAX_MESSAGE - 3) + '...' : c.message,
    lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : formatTime(now),
  };
  if (generation !== undefined) next.observedGeneration = generation;
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** Adds each missing type as Unknown (kstatus: conditions exist from the first visit on). */
export function ensureConditions(
  conds: readonly Condition[] | undefined,
  types: readonly string[],
  generation: number | undefined,
  now: Date,
  reason = 'Reconciling',
): Condition[] {
  let list = [...(conds ?? [])];
  for (const type of types) {
    if (!list.some((c) => c.type === type)) list = setCondition(list, { type, status: 'Unknown', reason, message: 'not evaluated yet' }, generation, now);
  }
  return list;
}

export function getCondition(conds: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conds?.find((c) => c.type === type);
}

export function isTrue(conds: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conds, type)?.status === 'True';
}

export function removeCondition(conds: readonly Condition[] | undefined, type: string): Condition[] {
  return (conds ?? []).filter((c) => c.type !== type);
}
