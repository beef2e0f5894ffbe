// zod → Kubernetes structural OpenAPI v3 schema. zod's JSON Schema output (openapi-3.0 target, input
// side so that defaulted fields are optional) is close to what apiextensions v1 accepts; this module
// removes what the API server forbids or would misread and refuses anything it cannot express, so a
// schema problem is found by `npm run crds` and the unit tests, not at install time.
import { z } from 'zod';

/** A JSON-schema node as it goes into a CRD (apiextensions v1 JSONSchemaProps). */
export interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  required?: string[];
  [keyword: string]: unknown;
}

// Keywords apiextensions v1 accepts in a structural schema that we emit. ($ref, anyOf/oneOf/allOf,
// not, propertyNames, const, $schema, definitions... are rejected with the path that carries them.)
// Listed in the order they are written out, so generated YAML reads the same for every field.
const KEYWORD_ORDER = [
  'description', 'title', 'type', 'format', 'enum', 'default', 'nullable', 'pattern',
  'minLength', 'maxLength', 'minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum', 'multipleOf',
  'minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties', 'example',
  'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type',
  'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-embedded-resource',
  'items', 'properties', 'additionalProperties', 'required', 'x-kubernetes-validations',
];
const ALLOWED = new Set(KEYWORD_ORDER);
const rank = (key: string) => KEYWORD_ORDER.indexOf(key);

// zod writes these for every z.int(); they carry no information for an int64 field.
const SAFE_MIN = Number.MIN_SAFE_INTEGER;
const SAFE_MAX = Number.MAX_SAFE_INTEGER;

export class SchemaConversionError extends Error {
  readonly code = 'SchemaNotStructural';
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'SchemaConversionError';
    this.path = path;
  }
}

function clean(node: unknown, path: string): SchemaNode {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) {
    throw new SchemaConversionError(path, 'schema node is not an object');
  }
  const out: SchemaNode = {};
  const entries = Object.entries(node as Record<string, unknown>).sort(([a], [b]) => rank(a) - rank(b));
  for (const [key, value] of entries) {
    if (key === '$schema' || key === 'propertyNames' || key === 'id') continue;
    if (key === 'additionalProperties' && value === false) continue; // pruning already drops unknown fields
    if (key === 'minimum' && value === SAFE_MIN) continue;
    if (key === 'maximum' && value === SAFE_MAX) continue;
    if (!ALLOWED.has(key)) throw new SchemaConversionError(path, `keyword "${key}" is not allowed in a structural CRD schema`);
    if (key === 'properties') {
      const props: Record<string, SchemaNode> = {};
      for (const [name, child] of Object.entries(value as Record<string, unknown>)) props[name] = clean(child, `${path}.${name}`);
      out.properties = props;
    } else if (key === 'items') {
      out.items = clean(value, `${path}[]`);
    } else if (key === 'additionalProperties') {
      out.additionalProperties = typeof value === 'object' ? clean(value, `${path}{}`) : value;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Structural schema for a zod type, with descriptions, defaults, enums, patterns and x-kubernetes-* kept. */
export function toStructuralSchema(schema: z.ZodType, path = 'schema'): SchemaNode {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw', reused: 'inline', cycles: 'throw' });
  return clean(json, path);
}

/**
 * Problems the API server (or a user of `kubectl explain`) would have with a schema, as "path: problem"
 * strings. Empty means structural: every node typed, required fields declared, list-map keys required,
 * every CEL rule with a message, every field described.
 */
export function structuralProblems(node: SchemaNode, path = 'schema', requireDescriptions = true): string[] {
  const problems: string[] = [];
  const visit = (n: SchemaNode, p: string, described: boolean) => {
    if (!n.type && !n['x-kubernetes-int-or-string'] && !n['x-kubernetes-preserve-unknown-fields']) problems.push(`${p}: no type`);
    if (requireDescriptions && described && !n.description) problems.push(`${p}: no description`);
    for (const key of Object.keys(n)) if (!ALLOWED.has(key)) problems.push(`${p}: keyword ${key} not allowed`);
    if (n.type === 'object' && n.properties === undefined && n.additionalProperties === undefined && !n['x-kubernetes-preserve-unknown-fields']) {
      problems.push(`${p}: object without properties (would be pruned empty)`);
    }
    for (const r of n.required ?? []) if (!n.properties?.[r]) problems.push(`${p}: required field ${r} is not a property`);
    if (n.type === 'array' && !n.items) problems.push(`${p}: array without items`);
    if (n['x-kubernetes-list-type'] === 'map') {
      const keys = (n['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [];
      if (keys.length === 0) problems.push(`${p}: list-type map without list-map-keys`);
      for (const k of keys) if (!n.items?.required?.includes(k)) problems.push(`${p}: list-map key ${k} must be required in items`);
    }
    const celRules = (n['x-kubernetes-validations'] as Array<{ rule?: string; message?: string; messageExpression?: string }> | undefined) ?? [];
    for (const rule of celRules) {
      if (!rule.rule) problems.push(`${p}: validation without rule`);
      if (!rule.message && !rule.messageExpression) problems.push(`${p}: validation "${rule.rule}" without message`);
    }
    // The API server estimates a rule's worst-case cost from the size of what it reads: every string
    // and list a rule can see needs a bound, or a rule like `self == oldSelf` can be refused.
    if (celRules.length > 0) unbounded(n, p, problems);
    for (const [name, child] of Object.entries(n.properties ?? {})) {
      // ObjectMeta at the root is the API server's own schema; a CRD may only say `type: object` there.
      if (n === node && name === 'metadata') continue;
      visit(child, `${p}.${name}`, true);
    }
    if (n.items) visit(n.items, `${p}[]`, false);
  };
  visit(node, path, false);
  return problems;
}

function unbounded(n: SchemaNode, p: string, problems: string[]): void {
  if (n.type === 'string' && n.maxLength === undefined && n.enum === undefined) problems.push(`${p}: string read by a CEL rule has no maxLength`);
  if (n.type === 'array' && n.maxItems === undefined) problems.push(`${p}: list read by a CEL rule has no maxItems`);
  for (const [name, child] of Object.entries(n.properties ?? {})) unbounded(child, `${p}.${name}`, problems);
  if (n.items) unbounded(n.items, `${p}[]`, problems);
}
