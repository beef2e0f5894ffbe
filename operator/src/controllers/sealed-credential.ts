// SealedCredential reconciler: proves the operator can open the envelope for exactly the scope written
// in spec (wrong key, tampering, or a scope that differs from the one sealed in → Ready=False with the
// reason), and publishes which sealing key opens it and the envelope digest. The value is never kept.
import { CredentialCondition, CredentialReason } from '../api/conditions.ts';
import type { Condition } from '../api/common.ts';
import type { SealedCredential, SealedCredentialStatus } from '../api/sealed-credential.ts';
import { setCondition } from '../runtime/conditions.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { KubeClients, ObjectKey, ReconcileContext, ReconcileResult, SharedInformer } from '../runtime/manager.ts';
import { patchStatus } from '../runtime/status.ts';
import { CREDENTIALS } from './resources.ts';

export type SealCheck =
  | { ok: true; sealingKeyId: string; digest: string }
  | { ok: false; code: string; message: string; digest: string };

export interface CredentialControllerDeps {
  credentials: SharedInformer<SealedCredential>;
  clients: KubeClients;
  events: EventRecorder;
  /** Opens the envelope in memory (value discarded) and reports whether it is usable. */
  checkSealed: (credential: SealedCredential) => Promise<SealCheck>;
}

export function credentialReconciler(deps: CredentialControllerDeps) {
  return async function reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const cred = deps.credentials.get(key.namespace, key.name);
    if (!cred || cred.metadata.deletionTimestamp) return;
    const result = await deps.checkSealed(cred);
    let conditions: Condition[] = cred.status?.conditions ?? [];
    const at = new Date(ctx.clock.now());
    const status: SealedCredentialStatus = { ...cred.status, digest: result.digest };
    if (result.ok) {
      status.sealingKeyId = result.sealingKeyId;
      conditions = setCondition(conditions, { type: CredentialCondition.Ready, status: 'True', reason: CredentialReason.Unsealable, message: `opens with sealing key ${result.sealingKeyId} for its scope` }, cred.metadata.generation, at);
    } else {
      delete status.sealingKeyId;
      conditions = setCondition(conditions, { type: CredentialCondition.Ready, status: 'False', reason: result.code, message: result.message }, cred.metadata.generation, at);
      if (cred.status?.conditions?.find((c) => c.type === CredentialCondition.Ready)?.reason !== result.code) {
        deps.events.emit(cred, 'Warning', result.code, 'Unseal', result.message);
      }
    }
    status.conditions = conditions;
    await patchStatus(deps.clients, CREDENTIALS, cred, status, ctx.signal); // sends nothing when nothing changed
  };
}
