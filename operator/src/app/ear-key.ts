// The operator's EAR signing key, kept in a Secret in the operator namespace so tokens stay verifiable
// across restarts and replicas. Created on first start; concurrent first starts converge on one key.
import type { CoreV1Api } from '@kubernetes/client-node';
import { EarSigner } from '../attestation/policy/ear.ts';

export const EAR_KEY_SECRET = 'confidential-agent-ear-signing-key';

/** `onCreated` gets the key's creation time (its Secret's creationTimestamp) for the key-age metric. */
export async function loadOrCreateEarSigner(core: CoreV1Api, namespace: string, onCreated?: (created: Date) => void): Promise<EarSigner> {
  const created = (t: Date | string | undefined) => {
    const d = t === undefined ? new Date() : new Date(t);
    if (Number.isFinite(d.getTime())) onCreated?.(d);
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const secret = await core.readNamespacedSecret({ name: EAR_KEY_SECRET, namespace });
      const pem = secret.data?.['key.pem'];
      if (!pem) throw new Error(`Secret ${namespace}/${EAR_KEY_SECRET} has no key.pem`);
      const signer = EarSigner.fromPem(Buffer.from(pem, 'base64').toString('utf8'));
      created(secret.metadata?.creationTimestamp);
      return signer;
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
    const signer = EarSigner.generate();
    try {
      const made = await core.createNamespacedSecret({
        namespace,
        body: {
          metadata: { name: EAR_KEY_SECRET, labels: { 'app.kubernetes.io/managed-by': 'confidential-agent-operator' } },
          type: 'Opaque',
          data: { 'key.pem': Buffer.from(signer.privateKeyPem()).toString('base64') },
        },
      });
      created(made.metadata?.creationTimestamp);
      return signer;
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err; // another replica won: read theirs
    }
  }
  throw new Error(`EAR signing key Secret ${namespace}/${EAR_KEY_SECRET} could not be created or read`);
}
