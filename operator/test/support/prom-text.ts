// Reading a Prometheus text exposition in tests: the series of one family, and every label value.
import type { OperatorHandle } from '../../src/app/operator.ts';

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const l of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
  return labels;
}

/** `name{labels} value` lines of one series name (a histogram's `_count` is its own name). */
export function series(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m || m[1] !== name) continue;
    out.push({ labels: parseLabels(m[2] ?? ''), value: Number(m[3]) });
  }
  return out;
}

/** Every sample line of the exposition with its series name. */
export function allSamples(text: string): Array<Sample & { name: string }> {
  const out: Array<Sample & { name: string }> = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m) out.push({ name: m[1]!, labels: parseLabels(m[2] ?? ''), value: Number(m[3]) });
  }
  return out;
}

/** The exposition names a family has (histograms: _bucket/_sum/_count). */
export function familyNames(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

/** A real HTTP scrape of the operator's /metrics. */
export async function scrape(operator: OperatorHandle): Promise<string> {
  const { host, port } = await operator.manager.httpAddress;
  return (await fetch(`http://${host}:${port}/metrics`)).text();
}

// Label values a bounded metric may carry: identifiers (reasons, codes, TEE types), Kubernetes names (an
// informer's `resource@namespace` too), FMSPCs, numbers (histogram `le`, HTTP codes). A nonce, digest, token,
// address or free text matches none of these.
const BOUNDED_VALUE = /^(?:[A-Za-z][A-Za-z0-9_.-]{0,62}|[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?(@[a-z0-9-]{1,63})?|[0-9A-F]{12}|[+-]?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|Inf))$/;
const LONG_HEX = /[0-9a-fA-F]{24,}/;
const LONG_B64 = /[A-Za-z0-9+/_-]{40,}/;

/**
 * Problems with the exposition's label values: a value that is not a bounded identifier/name/number, looks like
 * a nonce or digest (long hex or base64), or contains one of `forbidden` (secrets, instance IDs, addresses).
 */
export function labelProblems(text: string, forbidden: string[] = []): string[] {
  const problems: string[] = [];
  for (const s of allSamples(text)) {
    for (const [label, value] of Object.entries(s.labels)) {
      const where = `${s.name}{${label}="${value.slice(0, 80)}"}`;
      if (!BOUNDED_VALUE.test(value)) problems.push(`${where}: not a bounded identifier`);
      else if (LONG_HEX.test(value) || LONG_B64.test(value)) problems.push(`${where}: looks like a nonce or digest`);
      for (const f of forbidden) if (f.length >= 6 && value.includes(f)) problems.push(`${where}: contains a forbidden value`);
    }
  }
  return problems;
}
