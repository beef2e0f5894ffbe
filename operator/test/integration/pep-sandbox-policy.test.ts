// ConfidentialAgent.spec.sandboxPolicy against a real kube-apiserver + etcd: status shows the digest of
// the policy the agent runs under; a pinned digest the ConfigMap does not match is refused with an Event.
import { CoreV1Api, EventsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { workloadGuestLauncher } from '../../src/sim/local/guest-launcher.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { policyDigest } from '../../src/pep/policy.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { createCustom, getAgent, localAgent, samplePolicy, startTestOperator } from '../support/operator.ts';
import { defaultPolicyText } from '../support/pep.ts';

const controlPlane = useControlPlane();

describe('ConfidentialAgent sandbox policy', () => {
  let cloud: LocalCloud;
  let operator: OperatorHandle | undefined;
  beforeAll(async () => {
    cloud = await startLocalCloud({ launchGuest: workloadGuestLauncher(), pendingMs: 5 });
  });
  afterAll(async () => {
    await operator?.stop();
    await cloud.close();
  });

  it('status.sandboxPolicy names the ConfigMap and the digest; a mismatching pin is refused', async () => {
    const kc = controlPlane().kubeConfig();
    operator = await startTestOperator(kc, ['--local-cloud-url', cloud.url, '--gc-interval', '3600']);
    const ns = await createNamespace(kc, 'pep');
    const text = defaultPolicyText();
    await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'sandbox' }, data: { 'policy.json': text } } });
    await createCustom(kc, 'attestationpolicies', ns, samplePolicy('dev'));
    await createCustom(kc, 'confidentialagents', ns, localAgent('a1', 'dev', { sandboxPolicy: { configMapRef: { name: 'sandbox', key: 'policy.json' } } }));
    const other = policyDigest('{}');
    await createCustom(kc, 'confidentialagents', ns, localAgent('a2', 'dev', { sandboxPolicy: { configMapRef: { name: 'sandbox', key: 'policy.json' }, digest: other } }));

    const a1 = await waitFor('status.sandboxPolicy', async () => (await getAgent(kc, ns, 'a1'))?.status?.sandboxPolicy);
    expect(a1).toEqual({ configMap: 'sandbox', key: 'policy.json', digest: policyDigest(text) });

    const event = await waitFor('SandboxPolicyInvalid event', async () => {
      const list = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns });
      return list.items.find((e) => e.reason === 'SandboxPolicyInvalid' && e.regarding?.name === 'a2');
    });
    expect(event.note).toBe(`ConfigMap ${ns}/sandbox key policy.json: its digest ${policyDigest(text)} is not the pinned spec.sandboxPolicy.digest ${other}`);
    expect((await getAgent(kc, ns, 'a2'))?.status?.sandboxPolicy).toBeUndefined();
  });
});
