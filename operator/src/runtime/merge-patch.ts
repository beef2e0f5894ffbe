// RFC 7386 JSON merge patch that turns `from` into `to`: changed values are set, keys missing from `to`
// become null (a merge patch deletes only what is sent as null), objects recurse, arrays and scalars
// are replaced whole. Without the nulls a status field the operator dropped would stay forever.
// Equality is semantic (jsonEqual): an empty result means there is nothing to send.
import { jsonEqual } from './json-equal.ts';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return to;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(from)) {
    if (!(key in to) || to[key] === undefined) patch[key] = null;
  }
  for (const [key, value] of Object.entries(to)) {
    if (value === undefined) continue;
    const before = from[key];
    if (isObject(before) && isObject(value)) {
      const nested = mergePatch(before, value) as Record<string, unknown>;
      if (Object.keys(nested).length > 0) patch[key] = nested;
    } else if (!jsonEqual(before, value)) {
      patch[key] = value;
    }
  }
  return patch;
}

/** True when a merge patch changes nothing (no key at any level). */
export function isEmptyPatch(patch: unknown): boolean {
  return isObject(patch) && Object.keys(patch).length === 0;
}

/** Applies a merge patch (RFC 7386 §2), for tests and for callers that keep a local copy. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}
