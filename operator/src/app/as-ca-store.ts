// The attestation service's CA and EAR signing key (attestation/service/ca.ts AsCaState), persisted in a
// Secret in the operator namespace so every replica and restart serves the same anchors. The operator
// creates it on first start (concurrent first starts converge on one: create → 409 → read theirs) and
// otherwise only reads it: the rotation schedule (activate, retire) is a function of the stored state and
// the time, so nothing needs writing as it advances. Beginning a rotation is an admin action
// (`cai attestation-service rotate-ca`), written with the read resourceVersion.
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { advance, AsCaError, beginRotation, generateAsKeyset, initialCaState, parseCaState, type AsCaState } from '../attestation/service/ca.ts';

export const AS_CA_SECRET = 'confidential-agent-attestation-service-ca';
const KEY = 'state.json';

export interface AsCaPolicy {
  /** CA validity for new keysets (default 5 years: rotation is an admin action, see docs). */
  validDays: number;
  /** Warn (log) this long before the active CA expires (default 60 days). */
  warnBeforeSeconds: number;
}

export const DEFAULT_AS_CA_POLICY: AsCaPolicy = { validDays: 1826, warnBeforeSeconds: 60 * 86400 };
/** How long a new CA is published before it signs, and the old one kept after (default 24 h). */
export const DEFAULT_OVERLAP_SECONDS = 86400;

const code = (err: unknown) => (err as { code?: number }).code;

function stateOf(secret: V1Secret, namespace: string): AsCaState {
  const b64 = secret.data?.[KEY];
  if (!b64) throw new AsCaError('CaStateInvalid', `Secret ${namespace}/${AS_CA_SECRET} has no ${KEY}`);
  return parseCaState(Buffer.from(b64, 'base64').toString('utf8'));
}

/** The stored state (checked: every key matches its certificate); undefined when the Secret does not exist. */
export async function readAsCa(core: CoreV1Api, namespace: string): Promise<AsCaState | undefined> {
  try {
    return stateOf(await core.readNamespacedSecret({ name: AS_CA_SECRET, namespace }), namespace);
  } catch (err) {
    if (code(err) === 404) return undefined;
    throw err;
  }
}

export async function loadOrCreateAsCa(core: CoreV1Api, namespace: string, now: () => number, policy: AsCaPolicy = DEFAULT_AS_CA_POLICY): Promise<AsCaState> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await readAsCa(core, namespace);
    if (existing) return existing;
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

/**
 * Begins a rotation (admin credentials): a new keyset is published now and signs after `overlapSeconds`;
 * the old CA stays an anchor for another overlap. Refused while a rotation is in progress.
 */
export async function rotateAsCa(core: CoreV1Api, namespace: string, now: () => number, overlapSeconds = DEFAULT_OVERLAP_SECONDS, policy: AsCaPolicy = DEFAULT_AS_CA_POLICY): Promise<AsCaState> {
  const secret = await core.readNamespacedSecret({ name: AS_CA_SECRET, namespace });
  const current = advance(stateOf(secret, namespace), now());
  const next = beginRotation(current, await generateAsKeyset({ now: now(), validDays: policy.validDays }), now(), overlapSeconds);
  // resourceVersion from the read: a concurrent writer makes this fail (409) instead of being overwritten.
  await core.replaceNamespacedSecret({ name: AS_CA_SECRET, namespace, body: { ...secret, data: { ...secret.data, [KEY]: Buffer.from(JSON.stringify(next)).toString('base64') } } });
  return next;
}
