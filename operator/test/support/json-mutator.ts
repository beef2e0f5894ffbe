// Seeded, structure-aware mutations of JSON messages for the fuzz tests: wrong types, deleted and extra
// fields, flipped and truncated strings, truncated or noisy text, deep nesting, duplicate keys, wrong
// top-level types. Deterministic per seed, so a failing case can be replayed from its index.

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = Array<string | number>;

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function nested(depth: number): Json {
  let v: Json = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Values of the wrong type or absurd size for whatever field they replace. */
function hostileValue(r: () => number): Json {
  return pick<() => Json>(r, [
    () => null,
    () => 0,
    () => -1,
    () => 1e308,
    () => true,
    () => [],
    () => ({}),
    () => '',
    () => 'x'.repeat(1 + Math.floor(r() * 200_000)),
    () => nested(20 + Math.floor(r() * 20)),
    () => JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}') as Json,
    () => '\u0000\ud800\uffff',
    () => Array.from({ length: 1000 }, (_, i) => i),
  ])();
}

function paths(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((e, i) => paths(e, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, e] of Object.entries(v)) paths(e, [...at, k], out);
  return out;
}

function setAt(root: Json, path: Path, f: (old: Json, parent: Json, key: string | number) => Json | undefined): Json {
  if (path.length === 0) return f(root, null, '') ?? null;
  let parent = root as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, Json>;
  const key = path.at(-1)!;
  const next = f(parent[key]!, parent as Json, key);
  if (next === undefined) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else parent[key] = next;
  return root;
}

export interface Mutation {
  label: string;
  body: Buffer;
}

/** One hostile variant of `value` (a fresh deep copy is mutated). */
export function mutateJson(value: unknown, r: () => number): Mutation {
  const copy = JSON.parse(JSON.stringify(value)) as Json;
  const all = paths(copy);
  const kind = Math.floor(r() * 10);
  const text = (v: Json) => Buffer.from(JSON.stringify(v));
  switch (kind) {
    case 0: {
      const p = pick(r, all);
      return { label: `type at ${p.join('.') || '<root>'}`, body: text(setAt(copy, p, () => hostileValue(r))) };
    }
    case 1: {
      const p = pick(r, all.filter((x) => x.length > 0).concat([[]]));
      return { label: `delete ${p.join('.') || '<root>'}`, body: p.length ? text(setAt(copy, p, () => undefined)) : Buffer.alloc(0) };
    }
    case 2: {
      const strings = all.filter((p) => typeof p.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k]!, copy) === 'string');
      const p = pick(r, strings.length ? strings : [[]]);
      return {
        label: `string at ${p.join('.')}`,
        body: text(
          setAt(copy, p, (old) => {
            const s = String(old);
            if (s.length === 0 || r() < 0.3) return s.slice(0, Math.floor(r() * s.length));
            const i = Math.floor(r() * s.length);
            return s.slice(0, i) + String.fromCharCode((s.charCodeAt(i) ^ (1 + Math.floor(r() * 31))) & 0xffff) + s.slice(i + 1);
          }),
        ),
      };
    }
    case 3: {
      const t = text(copy);
      const n = Math.floor(r() * t.length);
      return { label: `truncated at ${n}/${t.length}`, body: t.subarray(0, n) };
    }
    case 4: {
      const t = text(copy);
      for (let e = 0; e < 1 + Math.floor(r() * 8); e++) t[Math.floor(r() * t.length)] = Math.floor(r() * 256);
      return { label: 'byte noise', body: t };
    }
    case 5: {
      const n = pick(r, [33, 1000, 100_000]);
      return { label: `nested ${n} deep`, body: Buffer.concat([Buffer.from('['.repeat(n)), text(copy), Buffer.from(']'.repeat(n))]) };
    }
    case 6: {
      const objects = all.filter((p) => {
        const v = p.reduce<Json>((x, k) => (x as Record<string | number, Json>)[k]!, copy);
        return v !== null && typeof v === 'object' && !Array.isArray(v);
      });
      const p = pick(r, objects.length ? objects : [[]]);
      return { label: `extra field at ${p.join('.') || '<root>'}`, body: text(setAt(copy, p, (old) => ({ ...(old as object), [`x${Math.floor(r() * 1e6)}`]: hostileValue(r) }))) };
    }
    case 7: {
      // duplicate keys: JSON.parse keeps the last one
      const t = text(copy).toString();
      const keys = Object.keys(copy && typeof copy === 'object' && !Array.isArray(copy) ? copy : {});
      if (!t.endsWith('}') || keys.length === 0) return { label: 'duplicate key (none)', body: Buffer.from(t + '}') };
      const k = pick(r, keys);
      return { label: `duplicate key ${k}`, body: Buffer.from(`${t.slice(0, -1)},${JSON.stringify(k)}:${JSON.stringify(hostileValue(r))}}`) };
    }
    case 8:
      return { label: 'wrong top-level type', body: Buffer.from(pick(r, ['[]', '"string"', '1', 'null', 'true', '', ' ', '{', '}', '\u0000'])) };
    default: {
      // several small mutations at once
      let v = copy;
      for (let e = 0; e < 3; e++) v = setAt(v, pick(r, paths(v)), () => hostileValue(r));
      return { label: 'three field types', body: text(v) };
    }
  }
}
