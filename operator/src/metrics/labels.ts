// Label hygiene for domain metrics: values come from status written by the operator, but some (reasons
// carrying a provider's error code, TEE types) are shaped by a cloud API or a guest. A label value that is
// not a short identifier is replaced, so no hostile or unbounded string ever becomes a series.

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

/** The value itself when it is a short identifier, otherwise `fallback`. */
export function boundedLabel(value: string | undefined, fallback = 'Other'): string {
  return value !== undefined && IDENTIFIER.test(value) ? value : fallback;
}

/** Kubernetes names (DNS-1123) are bounded by the API server; anything else is refused as a label. */
const DNS1123 = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
export function objectLabel(value: string | undefined): string {
  return value !== undefined && DNS1123.test(value) ? value : 'invalid';
}
