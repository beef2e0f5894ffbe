// The `[data]` table of a CoCo init-data TOML as flat string claims (trustee's `init_data_claims`), read in
// one linear pass: only `"key" = "value"` / `key = "value"` lines of [data]; multi-line strings, arrays and
// nested tables are skipped, never interpreted. Bounded: at most 64 KiB and 256 entries.
const MAX_BODY = 64 * 1024;
const MAX_ENTRIES = 256;
const ENTRY = /^(?:"([^"\\]{1,256})"|([A-Za-z0-9_.-]{1,256}))\s*=\s*"([^"\\]{0,4096})"$/;

export function initDataClaims(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (body.length > MAX_BODY) return out;
  let table = '';
  let inMulti: string | undefined;
  let count = 0;
  for (const raw of body.split('\n')) {
    const t = raw.replace(/\r$/, '').trim();
    if (inMulti) {
      if (t.includes(inMulti)) inMulti = undefined;
      continue;
    }
    if (t === '' || t.startsWith('#')) continue;
    const header = /^\[\s*([A-Za-z0-9_."-]+)\s*\]$/.exec(t);
    if (header) {
      table = header[1]!;
      continue;
    }
    for (const q of ["'''", '"""']) if ((t.split(q).length - 1) % 2 === 1) inMulti = q;
    if (table !== 'data' || inMulti) continue;
    const m = ENTRY.exec(t);
    if (!m) continue;
    const key = (m[1] ?? m[2])!;
    if (key === '__proto__' || Object.hasOwn(out, key)) continue;
    out[key] = m[3]!;
    if (++count >= MAX_ENTRIES) break;
  }
  return out;
}
