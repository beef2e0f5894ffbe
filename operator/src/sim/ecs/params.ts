// Reads the SDK's flattened RPC parameters (`Tag.1.Key`, `Permissions.2.PortRange`, `InstanceId.1`,
// JSON-array strings such as `InstanceIds=["i-1"]`) with the validation errors ECS itself returns.
import { EcsApiError, invalidParam, missing } from './api-error.ts';

export interface SimTag {
  key: string;
  value: string;
}

export class Params {
  readonly raw: Record<string, string>;
  constructor(raw: Record<string, string>) {
    this.raw = raw;
  }

  str(name: string): string | undefined {
    const v = this.raw[name];
    return v === undefined || v === '' ? undefined : v;
  }

  need(name: string): string {
    const v = this.str(name);
    if (v === undefined) throw missing(name);
    return v;
  }

  int(name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw invalidParam(name, `"${v}" is not an integer`);
    const n = Number(v);
    if (n < min || n > max) throw invalidParam(name, `${n} is outside [${min}, ${max}]`);
    return n;
  }

  bool(name: string): boolean {
    const v = this.str(name);
    if (v === undefined) return false;
    if (v !== 'true' && v !== 'false') throw invalidParam(name, `"${v}" is not a boolean`);
    return v === 'true';
  }

  /** `Name.1`, `Name.2`, ... in index order. */
  indexed(name: string): string[] {
    return this.records(name, ['']).map((r) => r[''] ?? '');
  }

  /** `Prefix.N.Field` groups, e.g. records('Permissions', ['PortRange', 'SourceCidrIp']). */
  records(prefix: string, fields: string[]): Array<Record<string, string>> {
    const byIndex = new Map<number, Record<string, string>>();
    const re = new RegExp(`^${prefix.replace('.', '\\.')}\\.(\\d+)(?:\\.(.+))?$`);
    for (const [k, v] of Object.entries(this.raw)) {
      const m = re.exec(k);
      if (!m) continue;
      const field = m[2] ?? '';
      if (!fields.includes(field)) continue;
      const i = Number(m[1]);
      if (i < 1) throw invalidParam(k, 'indexes start at 1');
      const rec = byIndex.get(i) ?? {};
      rec[field] = v;
      byIndex.set(i, rec);
    }
    return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
  }

  tags(prefix = 'Tag'): SimTag[] {
    return this.records(prefix, ['Key', 'Value']).map((r) => {
      if (!r.Key) throw new EcsApiError(400, 'InvalidTagKey.Malformed', 'The specified Tag.n.Key is not valid.');
      return { key: r.Key, value: r.Value ?? '' };
    });
  }

  /** A JSON-array string parameter (`InstanceIds`, `SecurityGroupIds`). */
  jsonArray(name: string, malformedCode: string): string[] | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      throw new EcsApiError(400, malformedCode, `The specified parameter "${name}" is not a valid JSON array.`);
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
      throw new EcsApiError(400, malformedCode, `The specified parameter "${name}" must be a JSON array of strings.`);
    }
    if (parsed.length > 100) throw new EcsApiError(400, malformedCode, `The specified parameter "${name}" has more than 100 items.`);
    return parsed as string[];
  }
}
