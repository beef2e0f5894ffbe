// InstanceProvider: how the ConfidentialAgent controller gets a TEE instance. Implementations must be
// idempotent on `token` (a retried create after a lost response or an operator restart returns the
// same instance) and must only ever touch instances carrying the operator's ownership tags. Every call
// takes the reconcile's abort signal: a stopping or deposed operator starts no new cloud work.

export type ProviderName = 'local' | 'alibaba';

/** Who owns an instance: written as tags/labels on create, read back by list-owned for garbage collection. */
export interface InstanceOwner {
  clusterId: string;
  namespace: string;
  name: string;
  uid: string;
}

export interface CreateInstanceRequest<Spec = unknown> {
  /** Deterministic idempotency token (derived from the object UID and a hash of the instance spec). */
  token: string;
  owner: InstanceOwner;
  /** The provider block of spec.instance (e.g. the `alibaba` object), defaults applied. */
  spec: Spec;
  /** Free-form labels recorded as extra tags (e.g. the workload profile). */
  labels: Record<string, string>;
}

export type InstanceState = 'Pending' | 'Starting' | 'Running' | 'Stopping' | 'Stopped' | 'Deleted' | 'Unknown';

export interface InstanceInfo {
  id: string;
  state: InstanceState;
  /** Address the operator reaches the guest at: an IP (cloud) or `127.0.0.1` (local). */
  address?: string;
  /** Per-port overrides when the provider maps guest ports (local provider: guest port -> host port). */
  ports?: Record<number, number>;
  zone?: string;
  createdAt?: string;
  /**
   * When the instance last booted (ECS `StartTime`; the local cloud's `startedAt`). A change on the same
   * instance id means the guest rebooted: its memory and TEE keys are gone, so it must be attested again.
   */
  startedAt?: string;
  owner?: InstanceOwner;
  token?: string;
  /** KBS `Tee` of the instance's evidence when the provider knows it (local: the simulated guest's). */
  tee?: string;
}

/** Why a provider call failed, classified once so controllers never guess. */
export type ProviderErrorKind =
  | 'Retryable' // throttling, conflicts, idempotent-processing, 5xx, network: requeue with backoff
  | 'InvalidSpec' // the request can never succeed as written: surface as a condition
  | 'Capacity' // no stock / zone not on sale / type unsupported here: condition, slow retry
  | 'Quota' // account quota exceeded: condition, slow retry
  | 'Auth' // credentials missing or refused: condition
  | 'NotFound';

export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;
  /** Provider error code (e.g. `OperationDenied.NoStock`) and request id, safe to show in conditions. */
  readonly code: string;
  readonly requestId: string | undefined;
  constructor(kind: ProviderErrorKind, code: string, message: string, requestId?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProviderError';
    this.kind = kind;
    this.code = code;
    this.requestId = requestId;
  }
}

export interface InstanceProvider<Spec = unknown> {
  readonly name: ProviderName;
  /** Create (or return the already-created) instance for this token. Never creates two for one token. */
  create(request: CreateInstanceRequest<Spec>, signal?: AbortSignal): Promise<InstanceInfo>;
  /** Current state, or undefined when the instance no longer exists. */
  describe(id: string, signal?: AbortSignal): Promise<InstanceInfo | undefined>;
  /** Find the instance created for a token (recovery after a lost create response). */
  findByToken(token: string, owner: InstanceOwner, signal?: AbortSignal): Promise<InstanceInfo | undefined>;
  /** Start deleting; deleting an instance that is already gone is success. */
  delete(id: string, signal?: AbortSignal): Promise<void>;
  /** Every instance carrying this operator's ownership tags for this cluster (for garbage collection). */
  listOwned(clusterId: string): Promise<InstanceInfo[]>;
  /** Release resources held by the provider itself (servers, timers). */
  close(): Promise<void>;
}
