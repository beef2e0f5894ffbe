// The KBS session-cookie keys (release/kbs/session-cookie.ts), kept in a Secret in the operator namespace so
// every replica — the operator's embedded KBS and any `cai kbs` — seals and opens the same cookies, and a
// handshake survives being load-balanced across replicas or a replica dying. Created on first start
// (concurrent first starts converge on one key); rotated by moving `current` to `previous` (cookies sealed
// before a rotation keep opening for one more rotation, far longer than a session's 5 minutes). Watched,
// so a rotation reaches running replicas without a restart.
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { generateSessionKey, sessionKeyId } from '../release/kbs/session-cookie.ts';
import type { KubernetesObject, Manager } from '../runtime/manager.ts';

export const SESSION_KEYS_SECRET = 'confidential-agent-kbs-session-keys';

/** Base64 of the 32-byte keys (structured-clone safe, for the KBS worker). */
export interface SerializedSessionKeys {
  current: string;
  previous?: string;
}

export class SessionKeysError extends Error {
  readonly code = 'SessionKeysInvalid';
}

interface SecretObject extends KubernetesObject {
  data?: Record<string, string>;
}

/** The keys a Secret's data holds, or why they are not usable (which field, which check). */
export function parseSessionKeysSecret(data: Record<string, string> | undefined, where: string): SerializedSessionKeys {
  const check = (field: string, optional: boolean): string | undefined => {
    const v = data?.[field];
    if (v === undefined && optional) return undefined;
    if (v === undefined) throw new SessionKeysError(`${where} has no ${field}`);
    // data values are base64 of the raw bytes: the key must be exactly 32 bytes
    const raw = Buffer.from(v, 'base64');
    if (raw.length !== 32 || raw.toString('base64') !== v) throw new SessionKeysError(`${where}.${field} must be base64 of 32 bytes`);
    return v;
  };
  const current = check('current', false)!;
  const previous = check('previous', true);
  return { current, ...(previous ? { previous } : {}) };
}

export function decodeSessionKeys(k: SerializedSessionKeys): { current: Buffer; previous?: Buffer } {
  return { current: Buffer.from(k.current, 'base64'), ...(k.previous ? { previous: Buffer.from(k.previous, 'base64') } : {}) };
}

const status = (err: unknown) => (err as { code?: number }).code;

export async function loadOrCreateSessionKeys(core: CoreV1Api, namespace: string): Promise<SerializedSessionKeys> {
  const where = `Secret ${namespace}/${SESSION_KEYS_SECRET}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const secret = await core.readNamespacedSecret({ name: SESSION_KEYS_SECRET, namespace });
      return parseSessionKeysSecret(secret.data, where);
    } catch (err) {
      if (status(err) !== 404) throw err;
    }
    const current = generateSessionKey().toString('base64');
    try {
      await core.createNamespacedSecret({
        namespace,
        body: { metadata: { name: SESSION_KEYS_SECRET, labels: { 'app.kubernetes.io/managed-by': 'confidential-agent-operator' } }, type: 'Opaque', data: { current } },
      });
      return { current };
    } catch (err) {
      if (status(err) !== 409) throw err; // another replica won: read theirs
    }
  }
  throw new Error(`${where} could not be created or read`);
}

/** New current key; the old current becomes previous (the one before is dropped). Optimistic: retried on conflict. */
export async function rotateSessionKeys(core: CoreV1Api, namespace: string): Promise<{ keyId: string; previousKeyId: string }> {
  const where = `Secret ${namespace}/${SESSION_KEYS_SECRET}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    await loadOrCreateSessionKeys(core, namespace);
    const secret = await core.readNamespacedSecret({ name: SESSION_KEYS_SECRET, namespace });
    const keys = parseSessionKeysSecret(secret.data, where);
    const next = generateSessionKey();
    try {
      await core.replaceNamespacedSecret({
        name: SESSION_KEYS_SECRET,
        namespace,
        body: { ...secret, data: { current: next.toString('base64'), previous: keys.current } },
      });
      return { keyId: sessionKeyId(next), previousKeyId: sessionKeyId(Buffer.from(keys.current, 'base64')) };
    } catch (err) {
      if (status(err) !== 409) throw err;
    }
  }
  throw new Error(`${where} kept changing; rotation not applied`);
}

/** The keys, kept current from a watch on the Secret; a Secret that does not parse is reported and ignored. */
export function liveSessionKeys(manager: Manager, namespace: string, initial: SerializedSessionKeys, logger: Logger): () => SerializedSessionKeys {
  let current = initial;
  const secrets = manager.informer<SecretObject>({
    group: '',
    version: 'v1',
    plural: 'secrets',
    kind: 'Secret',
    namespaced: true,
    namespace,
    fieldSelector: `metadata.name=${SESSION_KEYS_SECRET}`,
  });
  const reload = (secret: SecretObject) => {
    try {
      const next = parseSessionKeysSecret(secret.data, `Secret ${namespace}/${SESSION_KEYS_SECRET}`);
      if (next.current !== current.current || next.previous !== current.previous) {
        current = next;
        logger.info({ keyId: sessionKeyId(Buffer.from(next.current, 'base64')) }, 'kbs session keys reloaded');
      }
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'kbs session keys Secret is invalid; keeping the previous keys');
    }
  };
  secrets.on('add', reload);
  secrets.on('update', reload);
  return () => current;
}
