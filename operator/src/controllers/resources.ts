// The resources the operator reconciles or reads, as runtime ResourceRefs.
import { GROUP, VERSION } from '../api/common.ts';
import type { ResourceRef } from '../runtime/manager.ts';

export const AGENTS: ResourceRef = { group: GROUP, version: VERSION, plural: 'confidentialagents', kind: 'ConfidentialAgent', namespaced: true };
export const POLICIES: ResourceRef = { group: GROUP, version: VERSION, plural: 'attestationpolicies', kind: 'AttestationPolicy', namespaced: true };
export const CREDENTIALS: ResourceRef = { group: GROUP, version: VERSION, plural: 'sealedcredentials', kind: 'SealedCredential', namespaced: true };
export const CONFIGMAPS: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };

/** The endpoint phase's owned kinds, label-selected (controllers/agent/endpoint.ts ENDPOINT_LABEL). */
export const ENDPOINT_LABEL = 'confidential-agent.io/endpoint-of';
export const ENDPOINT_CONFIGMAPS: ResourceRef = { ...CONFIGMAPS, labelSelector: ENDPOINT_LABEL };
export const ENDPOINT_DEPLOYMENTS: ResourceRef = { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true, labelSelector: ENDPOINT_LABEL };
export const ENDPOINT_SERVICES: ResourceRef = { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, labelSelector: ENDPOINT_LABEL };

export const FINALIZER = 'confidential-agent.io/instance-cleanup';
export const FIELD_MANAGER = 'confidential-agent-operator';

/** Restrict every ref to one namespace (operator installed namespace-scoped), or leave cluster-wide. */
export function scoped(ref: ResourceRef, namespace: string | undefined): ResourceRef {
  return namespace ? { ...ref, namespace } : ref;
}
