// The attestation service's CA and EAR signing key (attestation/service/ca.ts AsCaState), persisted in a
// Secret in the operator namespace so every replica and restart serves the same anchors. Created on first
// start (concurrent first starts converge on one: create → 409 → read theirs). `maintainAsCa` advances the
// rotation (activation, retirement), begins one when the CA nears expiry or the Secret is annotated
// `confidential-agent.io/rotate-ca` (any value; the annotation is removed), and writes with the read
// resourceVersion, so two replicas never both rotate.
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { advance, AsCaError, beginRotation, generateAsKeyset, initialCaState, needsRotation, parseCaState, type AsCaState } from '../attestation/service/ca.ts';

export const AS_CA_SECRET = 'confidential-agent-attestation-service-ca';
export const ROTATE_ANNOTATION = 'confidential-agent.io/rotate-ca';
const KEY = 'state.json';

export interface AsCaPolicy {
  /** CA validity for new keysets (default 365 days). */
  validDays: number;
  /** Begin a rotation this long before the active CA expires (default 30 days). */
  renewBeforeSeconds: number;
  /** How long a new CA is published before it signs, and the old one kept after (default 24 h). */
  overlapSeconds: number;
}

export const DEFAULT_AS_CA_POLICY: AsCaPolicy = { validDays: 365, renewBeforeSeconds: 30 * 86400, overlapSeconds: 86400 };

const code = (err: unknown) => (err as { code?: number }).code;

function stateOf(secret: V1Secret, namespace: string): AsCaState {
  const b64 = secret.data?.[KEY];
  if (!b64) throw new AsCaError('CaStateInvalid', `Secret ${namespace}/${AS_CA_SECRET} has no ${KEY}`);
  return parseCaState(Buffer.from(b64, 'base64').toString('utf8'));
}

export async function loadOrCreateAsCa(core: CoreV1Api, namespace: string, now: () => number, policy: AsCaPolicy = DEFAULT_AS_CA_POLICY): Promise<AsCaState> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return stateOf(await core.readNamespacedSecret({ name: AS_CA_SECRET, namespace }), namespace);
    } catch (err) {
      if (code(err) !== 404) throw err;
    }
    const state = initialCaState(await generateAsKeyset({ now: now(), validDays: policy.validDays }));
    try {
      await core.createNamespacedSecret({
        namespace,
        body: {
          metadata: { name: AS_CA_SECRET, labels: { 'app.kubernetes.io/managed-by': 'confidential-agent-operator' } },
          type: 'Opaque',
          data: { [KEY]: Buffer.from(JSON.stringify(state)).toString('base64') },
        },
      });
      return state;
    } catch (err) {
      if (code(err) !== 409) throw err; // another replica won: read theirs
    }
  }
  throw new Error(`attestation service CA Secret ${namespace}/${AS_CA_SECRET} could not be created or read`);
}

/** Advances / begins a rotation and persists the result (optimistic concurrency); returns the state in force. */
export async function maintainAsCa(core: CoreV1Api, namespace: string, now: () => number, policy: AsCaPolicy = DEFAULT_AS_CA_POLICY): Promise<AsCaState> {
  const secret = await core.readNamespacedSecret({ name: AS_CA_SECRET, namespace });
  const current = stateOf(secret, namespace);
  let next = advance(current, now());
  const requested = secret.metadata?.annotations?.[ROTATE_ANNOTATION] !== undefined;
  if ((requested || needsRotation(next, now(), policy.renewBeforeSeconds)) && !next.next) {
    next = beginRotation(next, await generateAsKeyset({ now: now(), validDays: policy.validDays }), now(), policy.overlapSeconds);
  }
  if (JSON.stringify(next) === JSON.stringify(current) && !requested) return current;
  const annotations = { ...(secret.metadata?.annotations ?? {}) };
  delete annotations[ROTATE_ANNOTATION];
  try {
    await core.replaceNamespacedSecret({
      name: AS_CA_SECRET,
      namespace,
      body: { ...secret, metadata: { ...secret.metadata, annotations }, data: { ...secret.data, [KEY]: Buffer.from(JSON.stringify(next)).toString('base64') } },
    });
  } catch (err) {
    if (code(err) === 409) return stateOf(await core.readNamespacedSecret({ name: AS_CA_SECRET, namespace }), namespace); // another replica wrote first
    throw err;
  }
  return next;
}
