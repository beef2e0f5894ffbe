// The three CustomResourceDefinitions, built from the zod schemas (the single source of truth) plus
// the names and printer columns below. Pure: generate-crds.ts writes the result to crds/, and the unit
// tests compare crds/ with it.
import type { z } from 'zod';
import { stringify } from 'yaml';
import { AttestationPolicySpecSchema, AttestationPolicyStatusSchema } from './attestation-policy.ts';
import { GROUP, VERSION } from './common.ts';
import { ConfidentialAgentSpecSchema, ConfidentialAgentStatusSchema } from './confidential-agent.ts';
import { SealedCredentialSpecSchema, SealedCredentialStatusSchema } from './sealed-credential.ts';
import { toStructuralSchema, type SchemaNode } from './structural.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface CrdKind {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  columns: PrinterColumn[];
}

/** apiextensions.k8s.io/v1 CustomResourceDefinition, only the fields we emit. */
export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    scope: 'Namespaced';
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: SchemaNode };
    }>;
  };
}

export const CATEGORY = 'confidential';

const READY = '.status.conditions[?(@.type=="Ready")]';
const readyColumns: PrinterColumn[] = [
  { name: 'Ready', type: 'string', jsonPath: `${READY}.status`, description: 'Status of the Ready condition.' },
  { name: 'Reason', type: 'string', jsonPath: `${READY}.reason`, description: 'Reason of the Ready condition.' },
];
const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const CRD_KINDS: readonly CrdKind[] = [
  {
    kind: 'ConfidentialAgent',
    plural: 'confidentialagents',
    singular: 'confidentialagent',
    shortNames: ['cagent'],
    description:
      'ConfidentialAgent runs an AI agent in a TEE instance (Intel TDX + NVIDIA confidential GPU, or the local sample TEE), ' +
      'appraises its evidence against an AttestationPolicy and releases the referenced SealedCredentials only to the attested instance.',
    spec: ConfidentialAgentSpecSchema,
    status: ConfidentialAgentStatusSchema,
    columns: [
      ...readyColumns,
      { name: 'Provider', type: 'string', jsonPath: '.status.instance.provider', description: 'Instance provider.' },
      { name: 'Instance', type: 'string', jsonPath: '.status.instance.id', description: 'Provider instance ID.' },
      { name: 'Address', type: 'string', jsonPath: '.status.instance.address', description: 'Address the operator reaches the instance at.' },
      { name: 'Attestation', type: 'string', jsonPath: '.status.attestation.status', description: 'EAR status of the last appraisal.' },
      age,
    ],
  },
  {
    kind: 'AttestationPolicy',
    plural: 'attestationpolicies',
    singular: 'attestationpolicy',
    shortNames: ['attpol'],
    description:
      'AttestationPolicy states which hardware evidence is acceptable before credentials are released: TDX TCB status and ' +
      'reference measurements (inline, from a Rekor log, or from a Sigstore bundle), NVIDIA GPU evidence, and the re-attestation interval.',
    spec: AttestationPolicySpecSchema,
    status: AttestationPolicyStatusSchema,
    columns: [
      ...readyColumns,
      { name: 'Sample Allowed', type: 'boolean', jsonPath: '.spec.allowSampleTee', description: 'Whether the insecure sample TEE is accepted.' },
      { name: 'Reference Values', type: 'string', jsonPath: '.status.referenceValuesSource', description: 'Where the reference values in force came from.' },
      age,
    ],
  },
  {
    kind: 'SealedCredential',
    plural: 'sealedcredentials',
    singular: 'sealedcredential',
    shortNames: ['sealedcred'],
    description:
      'SealedCredential holds a secret sealed to the operator key (ciphertext only) and the KBS resource path it is delivered at; ' +
      'the operator opens it only to hand it to attested ConfidentialAgents within its scope.',
    spec: SealedCredentialSpecSchema,
    status: SealedCredentialStatusSchema,
    columns: [
      ...readyColumns,
      { name: 'Resource Path', type: 'string', jsonPath: '.spec.resourcePath', description: 'KBS resource path repo/type/tag.' },
      { name: 'Scope', type: 'string', jsonPath: '.spec.scope.mode', description: 'Who may receive it.' },
      age,
    ],
  },
];

export function buildCrd(def: CrdKind): CustomResourceDefinition {
  const spec = toStructuralSchema(def.spec, `${def.kind}.spec`);
  const status = toStructuralSchema(def.status, `${def.kind}.status`);
  const openAPIV3Schema: SchemaNode = {
    description: def.description,
    type: 'object',
    properties: {
      apiVersion: {
        description: 'APIVersion defines the versioned schema of this representation of an object.',
        type: 'string',
      },
      kind: { description: 'Kind is a string value representing the REST resource this object represents.', type: 'string' },
      metadata: { type: 'object' },
      spec: { ...spec, description: spec.description ?? `Desired state of the ${def.kind}.` },
      status: { ...status, description: status.description ?? `Observed state of the ${def.kind}, written by the operator.` },
    },
    required: ['spec'],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.columns,
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}

export const buildCrds = (): CustomResourceDefinition[] => CRD_KINDS.map(buildCrd);

/** File name in crds/, as controller-gen names them: <group>_<plural>.yaml. */
export const crdFileName = (crd: CustomResourceDefinition): string => `${crd.spec.group}_${crd.spec.names.plural}.yaml`;

const HEADER = '# Generated by `npm run crds` from the zod schemas in operator/src/api. Do not edit by hand.\n';

export function renderCrd(crd: CustomResourceDefinition): string {
  return HEADER + stringify(crd, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** Every CRD file's name and content. */
export function renderCrdFiles(): Map<string, string> {
  return new Map(buildCrds().map((crd) => [crdFileName(crd), renderCrd(crd)]));
}
