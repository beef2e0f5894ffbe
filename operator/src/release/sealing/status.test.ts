import { describe, expect, it } from 'vitest';
import { seal } from './envelope.ts';
import { createKeyring } from './keyring.ts';
import { checkSealedCredential } from './status.ts';

describe('checkSealedCredential', () => {
  it('reports key id and digest, and the unseal code when the object was moved or tampered', async () => {
    const keyring = await createKeyring(new Date());
    const spec = { resourcePath: 'r/t/g', scope: { mode: 'Strict' as const, agents: [] }, encryptedData: '' };
    spec.encryptedData = seal(keyring.certificatePem, Buffer.from('v'), { namespace: 'ns', name: 'c', ...spec.scope, resourcePath: spec.resourcePath });
    const ok = checkSealedCredential({ metadata: { name: 'c', namespace: 'ns' }, spec }, keyring);
    expect(ok).toMatchObject({ ok: true, sealingKeyId: keyring.activeKeyId, bytes: 1 });
    expect(ok.digest).toMatch(/^[0-9a-f]{64}$/);
    const moved = checkSealedCredential({ metadata: { name: 'c', namespace: 'other' }, spec }, keyring);
    expect(moved).toMatchObject({ ok: false, code: 'ScopeMismatch', sealingKeyId: keyring.activeKeyId });
    const bad = checkSealedCredential({ metadata: { name: 'c', namespace: 'ns' }, spec: { ...spec, encryptedData: 'AAAA' } }, keyring);
    expect(bad).toMatchObject({ ok: false, code: 'Malformed' });
    // an object without a namespace claims the empty namespace, which no envelope can be sealed for
    const nameless = checkSealedCredential({ metadata: { name: 'c' }, spec }, keyring);
    expect(nameless).toMatchObject({ ok: false, code: 'ScopeMismatch', message: 'scope.namespace is required' });
  });
});
