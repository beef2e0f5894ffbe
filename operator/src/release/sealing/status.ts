// What the SealedCredential controller reports: whether the operator keyring opens the ciphertext for the
// object's own scope, which key sealed it, and the envelope digest (never anything about the value).
import { createHash } from 'node:crypto';
import type { SealedCredential } from '../../api/sealed-credential.ts';
import { envelopeKeyId, unseal, type SealScope, type UnsealCode } from './envelope.ts';
import type { SealingKeyring } from './keyring.ts';

export type SealedCredentialCheck =
  | { ok: true; sealingKeyId: string; digest: string; bytes: number }
  | { ok: false; code: UnsealCode; message: string; sealingKeyId?: string; digest: string };

/** The scope a SealedCredential object claims (namespace, name, spec.scope, spec.resourcePath): it opens only if this is the sealed-in scope. */
export function sealScopeOf(cred: Pick<SealedCredential, 'metadata' | 'spec'>): SealScope {
  return {
    namespace: cred.metadata.namespace ?? '',
    name: cred.metadata.name,
    mode: cred.spec.scope.mode,
    agents: cred.spec.scope.agents,
    resourcePath: cred.spec.resourcePath,
  };
}

/** Opens the credential for its own scope and discards the value. */
export function checkSealedCredential(cred: Pick<SealedCredential, 'metadata' | 'spec'>, keyring: SealingKeyring): SealedCredentialCheck {
  const digest = createHash('sha256').update(cred.spec.encryptedData).digest('hex');
  const r = unseal(cred.spec.encryptedData, keyring, sealScopeOf(cred));
  if (!r.ok) {
    const keyId = envelopeKeyId(cred.spec.encryptedData);
    return { ok: false, code: r.code, message: r.message, digest, ...(keyId ? { sealingKeyId: keyId } : {}) };
  }
  const bytes = r.plaintext.length;
  r.plaintext.fill(0);
  return { ok: true, sealingKeyId: r.keyId, digest, bytes };
}
