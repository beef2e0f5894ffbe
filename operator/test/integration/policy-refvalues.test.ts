// AttestationPolicy reconciler against the real kube-apiserver and a local Rekor-v1-compatible log:
// reference values resolved from signed, logged statements are published in status with the verified
// checkpoint; when the log forks its history the policy goes Ready=False LogInconsistent and stops
// offering the values. Inline values and key validation too. Egress hygiene: a log or PCCS URL off the
// operator's allow-list is refused without a request; an allowed log's error body never reaches status or Events.
import { generateKeyPairSync } from 'node:crypto';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { AttestationPolicy } from '../../src/api/attestation-policy.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { loadSigningKey, parseTrustedRoot, publishReferenceValues, RekorClient } from '../../src/attestation/refvalues/index.ts';
import { TestRekorServer } from '../support/rekor-log/server.ts';
import { HostileServer } from '../support/hostile-server.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { conditionOf, createCustom, customObjects, startTestOperator } from '../support/operator.ts';

const controlPlane = useControlPlane();
const ARTIFACT = 'cai-openclaw-vllm';
const UKI = 'ab'.repeat(48);

describe('AttestationPolicy reference values', () => {
  const log = new TestRekorServer();
  // An "internal" service the administrator did allow (it answers 403 with a secret), and one nobody allowed.
  const internal = new HostileServer();
  const offList = new HostileServer();
  let operator: OperatorHandle;
  let ns: string;
  const key = loadSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());

  beforeAll(async () => {
    await log.start();
    await internal.start();
    internal.mode = 'secret-403';
    await offList.start();
    offList.mode = 'secret-403';
    const trust = parseTrustedRoot(log.trustedRootJson());
    const client = new RekorClient({ url: log.url, retries: 0 });
    for (let i = 0; i < 3; i++) await publishReferenceValues({ sha384: 'cd'.repeat(48), artifactId: `unrelated-${i}`, artifactVersion: '1', signingKey: key, client, trust, at: new Date() });
    await publishReferenceValues({ sha384: UKI, artifactId: ARTIFACT, artifactVersion: '2026.11.1', signingKey: key, client, trust, at: new Date() });
    const kc = controlPlane().kubeConfig();
    operator = await startTestOperator(kc, ['--operator-namespace', 'cai-system', '--allowed-rekor-urls', `${log.url},${internal.url}/`]);
    ns = await createNamespace(kc, 'policy');
    await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'log-roots' }, data: { 'trusted_root.json': log.trustedRootJson() } } });
  });
  afterAll(async () => {
    await operator?.stop();
    await log.stop();
    await internal.stop();
    await offList.stop();
  });

  const getPolicy = async (name: string) =>
    (await customObjects(controlPlane().kubeConfig()).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'attestationpolicies', name })) as AttestationPolicy;

  it('resolves Rekor values into status with the checkpoint, then detects a forked log', async () => {
    const kc = controlPlane().kubeConfig();
    await createCustom(kc, 'attestationpolicies', ns, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'AttestationPolicy',
      metadata: { name: 'prod' },
      spec: {
        tdx: {
          referenceValues: {
            rekor: { url: log.url, trustedRootRef: { name: 'log-roots', key: 'trusted_root.json' }, publicKey: key.publicKeyPem, artifactId: ARTIFACT, allowedVersions: ['2026.11.1'], refreshIntervalSeconds: 60 },
          },
        },
      },
    });
    const ready = await waitFor('policy Ready=True', async () => {
      const p = await getPolicy('prod');
      return conditionOf(p, 'Ready')?.status === 'True' ? p : undefined;
    });
    expect(ready.status?.referenceValuesSource).toBe('rekor');
    expect(ready.status?.referenceValues).toEqual([{ name: 'measurement.uki.SHA-384', digest: UKI, version: '2026.11.1', logIndex: 1003 }]);
    expect(ready.status?.checkpoint).toMatchObject({ origin: log.log.origin, treeSize: 4 });

    // The log rewrites an old entry (a split view) and grows: the remembered checkpoint exposes it.
    log.log.fork(1, Buffer.from('{"rewritten":"history"}'));
    await publishReferenceValues({ sha384: 'ef'.repeat(48), artifactId: 'after-fork', artifactVersion: '1', signingKey: key, client: new RekorClient({ url: log.url, retries: 0 }), trust: parseTrustedRoot(log.trustedRootJson()), at: new Date() });
    await customObjects(kc).patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns, plural: 'attestationpolicies', name: 'prod', body: { metadata: { annotations: { 'confidential-agent.io/refresh': '1' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const forked = await waitFor('policy LogInconsistent', async () => {
      const p = await getPolicy('prod');
      return conditionOf(p, 'Ready')?.reason === 'LogInconsistent' ? p : undefined;
    });
    expect(conditionOf(forked, 'Ready')?.status).toBe('False');
    expect(forked.status?.referenceValues).toBeUndefined();
  });

  it('publishes inline values under the names the appraisal matches', async () => {
    const kc = controlPlane().kubeConfig();
    const mrtd = '01'.repeat(48);
    await createCustom(kc, 'attestationpolicies', ns, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'AttestationPolicy',
      metadata: { name: 'inline' },
      spec: { tdx: { referenceValues: { inline: { mrtd: [mrtd.toUpperCase()], ukiSha384: [UKI] } } } },
    });
    const p = await waitFor('inline policy Ready', async () => {
      const x = await getPolicy('inline');
      return conditionOf(x, 'Ready')?.status === 'True' ? x : undefined;
    });
    expect(p.status?.referenceValues).toEqual([
      { name: 'mr_td', digest: mrtd },
      { name: 'measurement.uki.SHA-384', digest: UKI },
    ]);
  });

  it('refuses a signer key that is not P-256, naming the field', async () => {
    const kc = controlPlane().kubeConfig();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await createCustom(kc, 'attestationpolicies', ns, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'AttestationPolicy',
      metadata: { name: 'badkey' },
      spec: { tdx: { referenceValues: { rekor: { url: log.url, publicKey: rsa, artifactId: ARTIFACT, allowedVersions: ['1'] } } } },
    });
    const p = await waitFor('badkey Ready=False', async () => {
      const x = await getPolicy('badkey');
      return conditionOf(x, 'Ready')?.status === 'False' ? x : undefined;
    });
    expect(conditionOf(p, 'Ready')).toMatchObject({ reason: 'InvalidPublicKey' });
    expect(conditionOf(p, 'Ready')?.message).toContain('spec.tdx.referenceValues.rekor.publicKey');
  });

  const rekorPolicy = (name: string, url: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'AttestationPolicy',
    metadata: { name },
    spec: { tdx: { ...extra, referenceValues: { rekor: { url, publicKey: key.publicKeyPem, artifactId: ARTIFACT, allowedVersions: ['1'] } } } },
  });
  const readyFalse = (name: string) =>
    waitFor(`${name} Ready=False`, async () => {
      const x = await getPolicy(name);
      return conditionOf(x, 'Ready')?.status === 'False' ? x : undefined;
    });

  it('refuses a log URL off --allowed-rekor-urls without contacting it, naming the field and the rule', async () => {
    const kc = controlPlane().kubeConfig();
    await createCustom(kc, 'attestationpolicies', ns, rekorPolicy('offlist-log', `${offList.url}/internal/api`));
    const p = await readyFalse('offlist-log');
    const ready = conditionOf(p, 'Ready');
    expect(ready?.reason).toBe('LogUrlNotAllowed');
    expect(ready?.message).toContain('spec.tdx.referenceValues.rekor.url');
    expect(ready?.message).toContain('--allowed-rekor-urls');
    expect(ready?.message).toContain(`${log.url}/`); // the prefixes it may use
    expect(conditionOf(p, 'ReferenceValuesResolved')?.reason).toBe('LogUrlNotAllowed');
    expect(offList.requests).toEqual([]);
  });

  it('refuses a PCCS URL off --allowed-pccs-urls (default: Intel PCS only) without contacting it', async () => {
    const kc = controlPlane().kubeConfig();
    await createCustom(kc, 'attestationpolicies', ns, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'AttestationPolicy',
      metadata: { name: 'offlist-pccs' },
      spec: { tdx: { pccsUrl: `${offList.url}/tdx/certification/v4`, referenceValues: { inline: { ukiSha384: [UKI] } } } },
    });
    const p = await readyFalse('offlist-pccs');
    expect(conditionOf(p, 'Ready')).toMatchObject({ reason: 'PccsUrlNotAllowed' });
    expect(conditionOf(p, 'Ready')?.message).toContain('spec.tdx.pccsUrl');
    expect(conditionOf(p, 'Ready')?.message).toContain('https://api.trustedservices.intel.com/');
    expect(conditionOf(p, 'CollateralAvailable')).toBeUndefined();
    expect(p.status?.referenceValues).toBeUndefined();
    expect(offList.requests).toEqual([]);
  });

  it.each([
    ['rimServiceUrl', 'RimUrlNotAllowed', '--allowed-rim-urls', 'https://rim.attestation.nvidia.com/'],
    ['ocspUrl', 'OcspUrlNotAllowed', '--allowed-ocsp-urls', 'https://ocsp.ndis.nvidia.com/'],
  ])('refuses a GPU %s off its allow-list (default: NVIDIA only) without contacting it', async (field, code, flag, allowed) => {
    const kc = controlPlane().kubeConfig();
    const name = `offlist-${field.toLowerCase()}`;
    await createCustom(kc, 'attestationpolicies', ns, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'AttestationPolicy',
      metadata: { name },
      spec: { tdx: { referenceValues: { inline: { ukiSha384: [UKI] } } }, gpu: { required: true, ocsp: 'Require', [field]: `${offList.url}/nvidia/` } },
    });
    const p = await readyFalse(name);
    expect(conditionOf(p, 'Ready')).toMatchObject({ reason: code });
    expect(conditionOf(p, 'Ready')?.message).toContain(`spec.gpu.${field}`);
    expect(conditionOf(p, 'Ready')?.message).toContain(flag);
    expect(conditionOf(p, 'Ready')?.message).toContain(allowed);
    expect(offList.requests).toEqual([]);
  });

  it('reports an allowed log answering 403 with a secret by status code only: no body in status or Events', async () => {
    const kc = controlPlane().kubeConfig();
    await createCustom(kc, 'attestationpolicies', ns, rekorPolicy('echo', `${internal.url}/internal-only`));
    const p = await readyFalse('echo');
    const ready = conditionOf(p, 'Ready');
    expect(ready?.reason).toBe('LogUnavailable');
    expect(ready?.message).toMatch(/HTTP 403/);
    expect(internal.requests.length).toBeGreaterThan(0); // it was asked (allowed), so the body existed
    const events = await waitFor('warning event', async () => {
      const list = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=echo' });
      return list.items.length > 0 ? list.items : undefined;
    });
    const everything = JSON.stringify({ status: p.status, events: events.map((e) => [e.reason, e.message]) });
    expect(everything).toContain('HTTP 403');
    expect(everything).not.toContain('db-password');
    expect(everything).not.toContain('internal-only:');
  });
});
