// The sealing keyring in a real kube-apiserver: created once (also under a creation race), reloaded,
// rotated with old keys kept, and the active certificate published in a ConfigMap.
import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { seal, unseal, type SealScope } from '../../src/release/sealing/envelope.ts';
import { KeyringFormatError } from '../../src/release/sealing/keyring.ts';
import { SEALING_CERT_CONFIGMAP, SEALING_SECRET, SealingKeyStore } from '../../src/release/sealing/store.ts';
import { createNamespace, useControlPlane } from '../envtest/index.ts';

const controlPlane = useControlPlane();
const scope: SealScope = { namespace: 'agents', name: 'c', mode: 'Strict', agents: [], resourcePath: 'r/t/g' };

describe('SealingKeyStore against the API server', () => {
  it('creates once (even when two replicas race), reloads, rotates and publishes the certificate', async () => {
    const kc = controlPlane().kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const ns = await createNamespace(kc, 'sealing');
    const store = new SealingKeyStore();
    const [a, b] = await Promise.all([store.loadOrCreate(core, ns), new SealingKeyStore().loadOrCreate(core, ns)]);
    expect(a.activeKeyId).toBe(b.activeKeyId);
    const secret = await core.readNamespacedSecret({ name: SEALING_SECRET, namespace: ns });
    expect(Object.keys(secret.data ?? {})).toEqual(['keyring.json']);
    const cm = await core.readNamespacedConfigMap({ name: SEALING_CERT_CONFIGMAP, namespace: ns });
    expect(cm.data?.['cert.pem']).toBe(a.certificatePem);
    expect(JSON.stringify(cm)).not.toContain('PRIVATE KEY');

    const envelope = seal(cm.data!['cert.pem']!, Buffer.from('v1'), scope);
    const again = await store.loadOrCreate(core, ns);
    expect(again.activeKeyId).toBe(a.activeKeyId);

    const rotated = await store.rotate(core, ns);
    expect(rotated.keys.map((k) => k.id)).toContain(a.activeKeyId);
    expect(rotated.activeKeyId).not.toBe(a.activeKeyId);
    const reloaded = await store.loadOrCreate(core, ns);
    expect(reloaded.keys).toHaveLength(2);
    const opened = unseal(envelope, reloaded, scope);
    expect(opened.ok && opened.plaintext.toString()).toBe('v1');
    const cm2 = await core.readNamespacedConfigMap({ name: SEALING_CERT_CONFIGMAP, namespace: ns });
    expect(cm2.data?.['cert.pem']).toBe(rotated.certificatePem);
    expect(cm2.metadata?.annotations?.['confidential-agent.io/sealing-key-id']).toBe(rotated.activeKeyId);
  });

  it('refuses a corrupted stored keyring instead of silently replacing it', async () => {
    const kc = controlPlane().kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const ns = await createNamespace(kc, 'sealing');
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: SEALING_SECRET }, data: { 'keyring.json': Buffer.from('{"version":1,"keys":[]}').toString('base64') } } });
    await expect(new SealingKeyStore().loadOrCreate(core, ns)).rejects.toThrow(KeyringFormatError);
  });
});
