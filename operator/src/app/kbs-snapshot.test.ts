import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { initDataForPolicy } from '../pep/attestation.ts';
import { AttestationPolicySpecSchema } from '../api/attestation-policy.ts';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { SealedCredential } from '../api/sealed-credential.ts';
import { kbsSnapshot } from './kbs-snapshot.ts';

const agent = (name: string, mode: 'KBS' | 'Challenge', address?: string) =>
  ({
    metadata: { namespace: 'ns', name },
    spec: { attestationPolicyRef: { name: 'p' }, credentials: [{ name: 'c' }], delivery: { mode } },
    ...(address ? { status: { instance: { address } } } : {}),
  }) as unknown as ConfidentialAgent;
const policy = (name: string, ready: boolean) =>
  ({ metadata: { namespace: 'ns', name }, spec: AttestationPolicySpecSchema.parse({}), status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], referenceValues: [] } }) as unknown as AttestationPolicy;

describe('kbsSnapshot', () => {
  it('keeps KBS-mode agents (instance address without port), Ready policies, every credential, and RIM ConfigMaps', () => {
    const s = kbsSnapshot({
      agents: [agent('kbs', 'KBS', '10.0.0.5:8006'), agent('push', 'Challenge', '10.0.0.6:8006'), agent('starting', 'KBS')],
      policies: [policy('p', true), policy('q', false)],
      credentials: [{ metadata: { namespace: 'ns', name: 'c' }, spec: { resourcePath: 'a/b/c', scope: { mode: 'Strict', agents: [] }, encryptedData: 'x' } } as unknown as SealedCredential],
      configMaps: [{ metadata: { name: 'rims' }, data: { 'a.xml': '<x/>' } }, { metadata: { name: 'empty' } }],
    });
    expect(s.agents).toEqual([
      { namespace: 'ns', name: 'kbs', policyName: 'p', credentials: ['c'], identity: { peerAddress: '10.0.0.5' } },
      { namespace: 'ns', name: 'starting', policyName: 'p', credentials: ['c'] },
    ]);
    expect(s.policies.map((p) => p.name)).toEqual(['p']);
    expect(s.credentials).toEqual([{ namespace: 'ns', name: 'c', resourcePath: 'a/b/c', scope: { mode: 'Strict', agents: [] }, encryptedData: 'x' }]);
    expect(s.configMaps).toEqual({ rims: { 'a.xml': '<x/>' }, empty: {} });
    expect(structuredClone(s)).toEqual(s); // what crosses to the worker thread
  });

  it('reads the instance host from host:port, [v6]:port and bare IPv6', () => {
    const hosts = ['10.0.0.5:8006', '10.0.0.5', '[fd00::1]:8006', 'fd00::1'].map((a) => kbsSnapshot({ agents: [agent('a', 'KBS', a)], policies: [], credentials: [] }).agents[0]!.identity?.peerAddress);
    expect(hosts).toEqual(['10.0.0.5', '10.0.0.5', 'fd00::1', 'fd00::1']);
  });

  it('an instance launched with a sandbox policy is also identified by its init-data digest (what the KBS compares)', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const a = { ...agent('a', 'KBS', '10.0.0.5:8006'), status: { instance: { address: '10.0.0.5:8006', sandboxPolicyDigest: digest } } } as unknown as ConfidentialAgent;
    const id = kbsSnapshot({ agents: [a], policies: [], credentials: [] }).agents[0]!.identity;
    expect(id).toEqual({ peerAddress: '10.0.0.5', initDataDigest: createHash('sha384').update(initDataForPolicy(digest)).digest('hex') });
  });

  it('leaves out an agent the sandbox-policy phase refused (nothing is released to it by the KBS either)', () => {
    const withCondition = (name: string, status: string) =>
      ({ ...agent(name, 'KBS', '10.0.0.5:8006'), status: { instance: { address: '10.0.0.5:8006' }, conditions: [{ type: 'SandboxPolicyReady', status, reason: 'x', message: 'x' }] } }) as unknown as ConfidentialAgent;
    const s = kbsSnapshot({ agents: [withCondition('refused', 'False'), withCondition('unknown', 'Unknown'), withCondition('ok', 'True')], policies: [], credentials: [] });
    expect(s.agents.map((a) => a.name)).toEqual(['unknown', 'ok']);
  });
});
