// Shared API pieces: the group/version, conditions (kstatus / metav1.Condition shape) and helpers to
// attach CEL rules. These zod schemas are the single source of truth: TypeScript types come from
// z.infer, CRD YAML from generate-crds.ts, and a test fails when crds/ drifts from them.
import { z } from 'zod';

export const GROUP = 'confidential-agent.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Attach CEL `x-kubernetes-validations` to a schema (kept in zod metadata, emitted into the CRD). */
export function cel<T extends z.ZodType>(schema: T, ...rules: CelRule[]): T {
  const previous = (schema.meta() as Record<string, unknown> | undefined)?.['x-kubernetes-validations'] as CelRule[] | undefined;
  return schema.meta({ 'x-kubernetes-validations': [...(previous ?? []), ...rules] }) as T;
}

export const immutable = (what: string): CelRule => ({ rule: 'self == oldSelf', message: `${what} is immutable` });

// Same constraints as metav1.Condition, so generic tooling (kstatus, kubectl wait) reads ours as its own.
const CONDITION_TYPE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

export const ConditionSchema = z.object({
  type: z.string().min(1).max(316).regex(CONDITION_TYPE).describe('Type of condition in CamelCase, e.g. Ready, Provisioned, Attested.'),
  status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition: True, False or Unknown.'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(CONDITION_REASON)
    .describe("Machine-readable CamelCase reason for the condition's last transition."),
  message: z.string().max(32768).describe('Human-readable message with details about the transition.'),
  lastTransitionTime: z
    .string()
    .meta({ format: 'date-time' })
    .describe('Last time the condition changed status (RFC 3339).'),
  observedGeneration: z.int().min(0).optional().describe('The .metadata.generation the condition was set based upon.'),
});
export type Condition = z.infer<typeof ConditionSchema>;

export const ConditionsSchema = z
  .array(ConditionSchema)
  .max(32)
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
  .describe('Current state of the object as kstatus-style conditions; Ready summarises the others.');

export const LocalObjectReferenceSchema = z.object({
  name: z.string().min(1).max(253).describe('Name of the referenced object in the same namespace.'),
});

export const ConfigMapKeyReferenceSchema = z.object({
  name: z.string().min(1).max(253).describe('Name of the ConfigMap in the same namespace.'),
  key: z.string().min(1).max(253).describe('Key inside the ConfigMap.'),
});

/** Minimal typed object metadata as the operator reads it. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
}

export interface KubeObject<Spec, Status> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}
