// The sealing keyring the operator opens SealedCredentials with, kept current: the keyring Secret is
// watched (one object, by field selector), so a rotation (`cai sealing-key rotate`, or another replica)
// takes effect without a restart. A Secret that fails to parse is reported and ignored; the last good
// keyring stays in use.
import type { Logger } from 'pino';
import { parseKeyring, type SealingKeyring } from '../release/sealing/keyring.ts';
import { KEYRING_KEY, SEALING_SECRET } from '../release/sealing/store.ts';
import type { KubernetesObject, Manager } from '../runtime/manager.ts';

interface SecretObject extends KubernetesObject {
  data?: Record<string, string>;
}

/** `onChange` sees the initial keyring and every reloaded one (the operator's key-age metrics). */
export function liveKeyring(manager: Manager, namespace: string, initial: SealingKeyring, logger: Logger, onChange?: (k: SealingKeyring) => void): () => SealingKeyring {
  let current = initial;
  onChange?.(current);
  const secrets = manager.informer<SecretObject>({
    group: '',
    version: 'v1',
    plural: 'secrets',
    kind: 'Secret',
    namespaced: true,
    namespace,
    fieldSelector: `metadata.name=${SEALING_SECRET}`,
  });
  const reload = (secret: SecretObject) => {
    const data = secret.data?.[KEYRING_KEY];
    if (!data) return;
    try {
      const next = parseKeyring(Buffer.from(data, 'base64').toString('utf8'));
      if (next.activeKeyId !== current.activeKeyId || next.keys.length !== current.keys.length) {
        logger.info({ activeKeyId: next.activeKeyId, keys: next.keys.length }, 'sealing keyring reloaded');
      }
      current = next;
      onChange?.(current);
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, `Secret ${namespace}/${SEALING_SECRET} does not hold a valid keyring; keeping the previous one`);
    }
  };
  secrets.on('add', reload);
  secrets.on('update', reload);
  return () => current;
}
