import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { shareDispatcher, sharedDispatcherCount } from './shared-dispatcher.ts';

function kubeConfig(server: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, caData: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64') }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

describe('shareDispatcher', () => {
  it('reuses one dispatcher across requests to the same cluster with the same TLS material', async () => {
    const kc = shareDispatcher(kubeConfig('https://127.0.0.1:6443', 't'));
    const seen = new Set<unknown>();
    for (let i = 0; i < 5; i++) {
      const ctx = { setHeaderParam: () => {}, setDispatcher: (d: unknown) => seen.add(d) };
      await kc.applySecurityAuthentication(ctx as never);
    }
    expect(seen.size).toBe(1);
    expect(sharedDispatcherCount(kc)).toBe(1);
  });
  it('is idempotent and keeps different clusters apart', async () => {
    const kc = shareDispatcher(shareDispatcher(kubeConfig('https://127.0.0.1:6443', 't')));
    const seen = new Set<unknown>();
    const ctx = { setHeaderParam: () => {}, setDispatcher: (d: unknown) => seen.add(d) };
    await kc.applySecurityAuthentication(ctx as never);
    const other = shareDispatcher(kubeConfig('https://127.0.0.1:7443', 't'));
    await other.applySecurityAuthentication(ctx as never);
    expect(seen.size).toBe(2);
  });
});
