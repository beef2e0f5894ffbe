import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildCrds, crdFileName, CRD_KINDS, type CustomResourceDefinition } from './crd.ts';
import { apiDocDrift, CRD_DIR, crdDrift } from './generate-crds.ts';
import { BEGIN_MARKER, END_MARKER, renderFieldReference, spliceReference } from './reference.ts';
import { SchemaConversionError, structuralProblems, toStructuralSchema, type SchemaNode } from './structural.ts';

const crds = buildCrds();
const byPlural = (plural: string): CustomResourceDefinition => {
  const crd = crds.find((c) => c.spec.names.plural === plural);
  if (!crd) throw new Error(`no CRD ${plural}`);
  return crd;
};
const root = (crd: CustomResourceDefinition): SchemaNode => crd.spec.versions[0]!.schema.openAPIV3Schema;
const at = (node: SchemaNode, path: string): SchemaNode =>
  path.split('.').reduce<SchemaNode>((n, key) => {
    const next = key === '[]' ? n.items : n.properties?.[key];
    if (!next) throw new Error(`no schema at ${path} (stopped at ${key})`);
    return next;
  }, node);
const rules = (node: SchemaNode) => ((node['x-kubernetes-validations'] as Array<{ rule: string }> | undefined) ?? []).map((r) => r.rule);

describe('generated CRDs', () => {
  it('crds/ matches the zod schemas (run `npm run crds` after changing operator/src/api)', () => {
    expect(crdDrift()).toEqual([]);
  });

  it('docs/api.md carries the current generated field reference (run `npm run crds`)', () => {
    expect(apiDocDrift()).toBe(false);
  });

  it('drift detection reports changed, missing and stale files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crd-drift-'));
    try {
      cpSync(CRD_DIR, dir, { recursive: true });
      expect(crdDrift(dir)).toEqual([]);
      const agents = join(dir, 'confidential-agent.io_confidentialagents.yaml');
      writeFileSync(agents, readFileSync(agents, 'utf8').replace('cagent', 'cagnt'));
      rmSync(join(dir, 'confidential-agent.io_sealedcredentials.yaml'));
      writeFileSync(join(dir, 'confidential-agent.io_widgets.yaml'), 'x: 1\n');
      expect(crdDrift(dir).sort()).toEqual([
        'confidential-agent.io_confidentialagents.yaml (differs)',
        'confidential-agent.io_sealedcredentials.yaml (missing)',
        'confidential-agent.io_widgets.yaml (not generated any more)',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(crds.map((c) => [c.metadata.name, c] as const))('%s is structural, typed and described everywhere', (_name, crd) => {
    expect(structuralProblems(root(crd))).toEqual([]);
    expect(JSON.stringify(crd)).not.toMatch(/"\$ref"|"\$schema"|"anyOf"|"oneOf"|"allOf"|"propertyNames"|"additionalProperties":false/);
  });

  it('names, scope, status subresource, categories and file names follow the API conventions', () => {
    expect(crds.map((c) => [crdFileName(c), c.spec.names.kind, c.spec.names.shortNames, c.spec.names.categories])).toEqual([
      ['confidential-agent.io_confidentialagents.yaml', 'ConfidentialAgent', ['cagent'], ['confidential']],
      ['confidential-agent.io_attestationpolicies.yaml', 'AttestationPolicy', ['attpol'], ['confidential']],
      ['confidential-agent.io_sealedcredentials.yaml', 'SealedCredential', ['sealedcred'], ['confidential']],
    ]);
    for (const crd of crds) {
      expect(crd.spec.group).toBe('confidential-agent.io');
      expect(crd.spec.scope).toBe('Namespaced');
      expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage, v.subresources])).toEqual([['v1alpha1', true, true, { status: {} }]]);
      expect(root(crd).required).toEqual(['spec']);
      const columns = crd.spec.versions[0]!.additionalPrinterColumns;
      expect(columns.slice(0, 2).map((c) => c.jsonPath)).toEqual([
        '.status.conditions[?(@.type=="Ready")].status',
        '.status.conditions[?(@.type=="Ready")].reason',
      ]);
      expect(columns.at(-1)).toEqual({ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' });
    }
    const names = (plural: string) => byPlural(plural).spec.versions[0]!.additionalPrinterColumns.map((c) => c.name);
    expect(names('confidentialagents')).toEqual(['Ready', 'Reason', 'Provider', 'Instance', 'Address', 'Attestation', 'Age']);
    expect(names('attestationpolicies')).toEqual(['Ready', 'Reason', 'Sample Allowed', 'Reference Values', 'Age']);
    expect(names('sealedcredentials')).toEqual(['Ready', 'Reason', 'Resource Path', 'Scope', 'Age']);
  });

  it('every printer column points at a field that exists in the schema', () => {
    for (const crd of crds) {
      for (const col of crd.spec.versions[0]!.additionalPrinterColumns) {
        if (col.jsonPath.startsWith('.metadata.')) continue;
        const path = col.jsonPath.replace(/\[\?\(@\.type=="Ready"\)\]/, '.[]').slice(1);
        expect(() => at(root(crd), path), `${crd.metadata.name} column ${col.name}`).not.toThrow();
      }
    }
  });

  it('carries the CEL rules for immutable fields and mutually exclusive options', () => {
    const agent = root(byPlural('confidentialagents'));
    expect(rules(at(agent, 'spec.instance'))).toEqual([
      '[has(self.local), has(self.alibaba)].filter(x, x).size() == 1',
      'self == oldSelf',
    ]);
    const policy = root(byPlural('attestationpolicies'));
    expect(rules(at(policy, 'spec.tdx.referenceValues'))).toEqual(['[has(self.inline), has(self.rekor), has(self.bundle)].filter(x, x).size() <= 1']);
    const cred = root(byPlural('sealedcredentials'));
    expect(rules(at(cred, 'spec.resourcePath'))).toEqual(['self == oldSelf']);
    expect(rules(at(cred, 'spec.scope'))).toEqual(['self == oldSelf']);
  });

  it('keeps defaults, enums, patterns and list-map keys from the zod schemas', () => {
    const agent = root(byPlural('confidentialagents'));
    expect(at(agent, 'spec.workload').default).toEqual({ profile: 'openclaw-vllm', model: 'Qwen3.6-35B-A3B', port: 18789 });
    expect(at(agent, 'spec.delivery').default).toEqual({ mode: 'Challenge', guestApiPort: 8006 });
    expect(at(agent, 'spec.delivery.mode').enum).toEqual(['Challenge', 'KBS']);
    expect(at(agent, 'spec.credentials')['x-kubernetes-list-map-keys']).toEqual(['name']);
    expect(at(agent, 'status.conditions')['x-kubernetes-list-type']).toBe('map');
    expect(at(agent, 'spec.instance.alibaba.instanceType').pattern).toBe('^ecs\\.[a-z0-9-]+\\.[a-z0-9]+$');
    expect(at(agent, 'spec').required).toEqual(['instance', 'attestationPolicyRef']);
    const policy = root(byPlural('attestationpolicies'));
    expect(at(policy, 'spec.tdx.acceptedTcbStatuses').default).toEqual(['UpToDate']);
    expect(at(policy, 'spec.tdx.referenceValues.inline.mrtd.[]').pattern).toBe('^[0-9a-fA-F]{96}$');
    // z.int() without bounds: the int53 bounds zod writes are dropped, explicit bounds kept
    expect(at(agent, 'status.observedGeneration')).toEqual({ description: 'Generation last processed by the operator.', type: 'integer' });
    expect(at(agent, 'spec.workload.port')).toMatchObject({ minimum: 1, maximum: 65535 });
  });

  it('defines one CRD per API kind', () => {
    expect(CRD_KINDS.map((k) => k.kind)).toEqual(crds.map((c) => c.spec.names.kind));
  });
});

describe('field reference', () => {
  const reference = renderFieldReference(crds);
  it('lists every field with type, default and rules', () => {
    expect(reference).toContain('| `spec.instance` **(required)** | object |  | Where the TEE instance runs.');
    expect(reference).toContain('Rule: exactly one of instance.local or instance.alibaba must be set. Rule: instance is immutable. |');
    expect(reference).toContain('| `spec.delivery.mode` | Challenge \\| KBS | `"Challenge"` |');
    expect(reference).toContain('| `spec.credentials[].name` **(required)** | string length 1–253 |  |');
    expect(reference).toContain('| `spec.tdx.acceptedTcbStatuses` | list of UpToDate \\| SWHardeningNeeded');
  });

  it('replaces only the generated block of a document', () => {
    const doc = `# Title\n\nintro\n\n${BEGIN_MARKER}\nold\n${END_MARKER}\n\n## After\n`;
    expect(spliceReference(doc, `${BEGIN_MARKER}\nnew\n${END_MARKER}`)).toBe(`# Title\n\nintro\n\n${BEGIN_MARKER}\nnew\n${END_MARKER}\n\n## After\n`);
    expect(spliceReference('# Title\n', 'REF')).toBe('# Title\n\nREF\n');
  });
});

describe('toStructuralSchema', () => {
  it('refuses schema constructs the API server cannot take, naming the path', () => {
    const err = (() => {
      try {
        toStructuralSchema(z.object({ a: z.object({ b: z.union([z.string(), z.number()]) }) }), 'X.spec');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(SchemaConversionError);
    expect((err as SchemaConversionError).path).toBe('X.spec.a.b');
    expect((err as Error).message).toContain('"anyOf"');
  });

  it('refuses types JSON Schema cannot represent', () => {
    expect(() => toStructuralSchema(z.object({ when: z.date() }))).toThrow();
  });

  it('drops $schema, propertyNames and additionalProperties:false', () => {
    const out = toStructuralSchema(z.strictObject({ m: z.record(z.string().max(3), z.string()) }));
    expect(JSON.stringify(out)).not.toMatch(/\$schema|propertyNames|"additionalProperties":false/);
    expect(out.properties?.['m']).toEqual({ type: 'object', additionalProperties: { type: 'string' } });
  });
});

describe('structuralProblems', () => {
  it('reports untyped nodes, missing descriptions, bad list-map keys and messageless rules', () => {
    const bad: SchemaNode = {
      type: 'object',
      properties: {
        a: { description: 'no type' },
        b: { type: 'string' },
        c: {
          description: 'list',
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', properties: { name: { type: 'string', description: 'n' } } },
        },
        d: { description: 'rule', type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf' }] },
        e: { description: 'empty', type: 'object' },
        g: {
          description: 'immutable',
          type: 'object',
          properties: { s: { description: 's', type: 'string' }, l: { description: 'l', type: 'array', items: { type: 'string', maxLength: 3 } } },
          'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'immutable' }],
        },
      },
      required: ['f'],
    };
    expect(structuralProblems(bad, 'x')).toEqual([
      'x: required field f is not a property',
      'x.a: no type',
      'x.b: no description',
      'x.c: list-map key name must be required in items',
      'x.d: validation "self == oldSelf" without message',
      'x.d: string read by a CEL rule has no maxLength',
      'x.e: object without properties (would be pruned empty)',
      'x.g.s: string read by a CEL rule has no maxLength',
      'x.g.l: list read by a CEL rule has no maxItems',
    ]);
  });
});
