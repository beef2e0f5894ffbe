// Markdown field reference for docs/api.md, rendered from the generated CRD schemas so the document
// cannot drift from what the API server enforces (generate-crds.ts writes it; the drift test checks it).
import type { CustomResourceDefinition } from './crd.ts';
import type { SchemaNode } from './structural.ts';

export const BEGIN_MARKER = '<!-- BEGIN GENERATED FIELD REFERENCE (npm run crds) -->';
export const END_MARKER = '<!-- END GENERATED FIELD REFERENCE -->';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (value: unknown) => '`' + cell(JSON.stringify(value)) + '`';

function typeOf(node: SchemaNode): string {
  const parts: string[] = [];
  if (node.type === 'array') {
    const items = node.items ?? {};
    parts.push(`list of ${items.type === 'object' ? 'objects' : typeOf(items)}`);
    if (node['x-kubernetes-list-type'] === 'map') parts.push(`keyed by ${(node['x-kubernetes-list-map-keys'] as string[]).join(', ')}`);
    const bounds = [node.minItems !== undefined ? `min ${String(node.minItems)}` : '', node.maxItems !== undefined ? `max ${String(node.maxItems)}` : ''].filter(Boolean);
    if (bounds.length) parts.push(`${bounds.join(', ')} items`);
    return parts.join('; ');
  }
  if (node.enum) return (node.enum as unknown[]).map((v) => String(v)).join(' \\| ');
  parts.push(node.type ?? 'any');
  if (node.format) parts.push(`(${String(node.format)})`);
  if (node.minimum !== undefined && node.maximum !== undefined) parts.push(`${String(node.minimum)}–${String(node.maximum)}`);
  else if (node.minimum !== undefined) parts.push(`≥ ${String(node.minimum)}`);
  else if (node.maximum !== undefined) parts.push(`≤ ${String(node.maximum)}`);
  if (node.minLength !== undefined || node.maxLength !== undefined) {
    parts.push(`length ${String(node.minLength ?? 0)}–${String(node.maxLength ?? '…')}`);
  }
  if (node.pattern) parts.push(`matching \`${cell(String(node.pattern))}\``);
  return parts.join(' ');
}

function rows(node: SchemaNode, path: string, out: string[]): void {
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const field = `${path}.${name}`;
    const required = node.required?.includes(name) ? ' **(required)**' : '';
    const rules = ((child['x-kubernetes-validations'] as Array<{ message?: string }> | undefined) ?? []).map((r) => r.message ?? '');
    const description = [child.description ?? '', ...rules.map((m) => `Rule: ${m}.`)].filter(Boolean).join(' ');
    const def = child.default === undefined ? '' : code(child.default);
    out.push(`| \`${field}\`${required} | ${typeOf(child)} | ${def} | ${cell(description)} |`);
    const nested = child.type === 'array' ? child.items : child;
    if (nested?.properties) rows(nested, child.type === 'array' ? `${field}[]` : field, out);
  }
}

function table(node: SchemaNode | undefined, path: string): string {
  const out = ['| Field | Type | Default | Description |', '|---|---|---|---|'];
  if (node) rows(node, path, out);
  return out.join('\n');
}

export function renderFieldReference(crds: CustomResourceDefinition[]): string {
  const sections = crds.map((crd) => {
    const { kind, shortNames, plural } = crd.spec.names;
    const version = crd.spec.versions[0];
    const root = version?.schema.openAPIV3Schema;
    const columns = (version?.additionalPrinterColumns ?? []).map((c) => c.name).join(', ');
    return [
      `### ${kind}`,
      '',
      `\`${crd.spec.group}/${version?.name ?? ''}\`, namespaced; \`kubectl get ${plural}\` or \`${shortNames.join('`, `')}\`. Columns: ${columns}.`,
      '',
      root?.description ?? '',
      '',
      '#### Spec',
      '',
      table(root?.properties?.['spec'], 'spec'),
      '',
      '#### Status (written by the operator)',
      '',
      table(root?.properties?.['status'], 'status'),
    ].join('\n');
  });
  return [BEGIN_MARKER, '', ...sections.flatMap((s) => [s, '']), END_MARKER].join('\n');
}

/** Replaces the generated block in a document (appends it when the markers are absent). */
export function spliceReference(document: string, reference: string): string {
  const begin = document.indexOf(BEGIN_MARKER);
  const end = document.indexOf(END_MARKER);
  if (begin < 0 || end < begin) return `${document.trimEnd()}\n\n${reference}\n`;
  return document.slice(0, begin) + reference + document.slice(end + END_MARKER.length);
}
