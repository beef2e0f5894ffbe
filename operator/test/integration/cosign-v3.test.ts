// Interop with the real cosign v3 (github.com/sigstore/cosign/v3, pinned in hack/cosign/go.mod, built by
// `make cosign`): cosign attests one UKI digest (attest-blob: a dsse 0.0.1 entry) and signs the statement
// of another (sign-blob: a hashedrekord 0.0.1 entry) in the loopback test log, with its own key pair and no
// Fulcio/TSA. An AttestationPolicy pinned to cosign.pub, given cosign's bundle and the signed statement in a
// ConfigMap, resolves both to reference values (against the real kube-apiserver); without the statements it
// does not; the attest-blob bundle also resolves offline (bundle source).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { AttestationPolicy } from '../../src/api/attestation-policy.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { RekorClient } from '../../src/attestation/refvalues/client.ts';
import { artifactIndexHash, buildStatement } from '../../src/attestation/refvalues/statement.ts';
import { TestRekorServer } from '../support/rekor-log/server.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { conditionOf, createCustom, customObjects, startTestOperator } from '../support/operator.ts';

const run = promisify(execFile);
const COSIGN = process.env.COSIGN_BIN ?? join(homedir(), '.cache/cai-operator/cosign/cosign');
const PINNED = 'v3.1.3'; // hack/cosign/go.mod
const ARTIFACT = 'cai-openclaw-vllm';
const ATTESTED = { version: '2026.12.1', uki: '1a'.repeat(48) };
const SIGNED = { version: '2026.12.2', uki: '2b'.repeat(48) };

const controlPlane = useControlPlane();

describe('reference values published by the real cosign v3', () => {
  const log = new TestRekorServer();
  let dir = '';
  let operator: OperatorHandle;
  let ns = '';
  let pub = '';
  let attestBundle = '';
  let signedStatement = '';

  const cosign = async (args: string[]) =>
    run(COSIGN, args, { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, COSIGN_PASSWORD: '', TUF_ROOT: join(dir, 'tuf') }, timeout: 60_000 });

  beforeAll(async () => {
    if (!existsSync(COSIGN)) throw new Error(`cosign not found at ${COSIGN}: run \`make cosign\` (hack/cosign/build.sh)`);
    const { stdout } = await run(COSIGN, ['version', '--json']);
    expect((JSON.parse(stdout) as { gitVersion: string }).gitVersion).toBe(PINNED);
    dir = await mkdtemp(join(tmpdir(), 'cosign-v3-'));
    await log.start();
    await cosign(['generate-key-pair']);
    pub = await readFile(join(dir, 'cosign.pub'), 'utf8');
    const statement = (x: typeof ATTESTED) => JSON.stringify(buildStatement({ artifactId: ARTIFACT, artifactVersion: x.version, artifactType: 'uki', sha384: x.uki }));
    await writeFile(join(dir, 'attested.json'), statement(ATTESTED));
    signedStatement = statement(SIGNED);
    await writeFile(join(dir, 'signed.json'), signedStatement);
    // Service URLs by flag (no signing config, no TUF), key pair, upload to the loopback log only.
    const common = ['--key', 'cosign.key', '--use-signing-config=false', '--rekor-url', log.url, '--tlog-upload=true', '--yes'];
    await cosign(['attest-blob', ...common, '--statement', 'attested.json', '--bundle', 'attested.sigstore.json']);
    await cosign(['sign-blob', ...common, '--bundle', 'signed.sigstore.json', 'signed.json']);
    attestBundle = await readFile(join(dir, 'attested.sigstore.json'), 'utf8');

    const kc = controlPlane().kubeConfig();
    operator = await startTestOperator(kc, ['--operator-namespace', 'cai-system', '--allowed-rekor-urls', log.url]);
    ns = await createNamespace(kc, 'cosign');
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'log-roots' }, data: { 'trusted_root.json': log.trustedRootJson() } } });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'cosign-output' }, data: { 'attested.sigstore.json': attestBundle, 'signed.json': signedStatement } },
    });
  }, 180_000);
  afterAll(async () => {
    await operator?.stop();
    await log.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const getPolicy = async (name: string) =>
    (await customObjects(controlPlane().kubeConfig()).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'attestationpolicies', name })) as AttestationPolicy;
  const settled = (name: string) =>
    waitFor(`${name} Ready settled`, async () => {
      const p = await getPolicy(name);
      return conditionOf(p, 'Ready') ? p : undefined;
    });
  const rekorPolicy = (name: string, statements: boolean) => ({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'AttestationPolicy',
    metadata: { name },
    spec: {
      tdx: {
        referenceValues: {
          rekor: {
            url: log.url,
            trustedRootRef: { name: 'log-roots', key: 'trusted_root.json' },
            publicKey: pub,
            artifactId: ARTIFACT,
            allowedVersions: [ATTESTED.version, SIGNED.version],
            ...(statements ? { statementsConfigMapRef: { name: 'cosign-output' } } : {}),
          },
        },
      },
    },
  });

  it('cosign wrote a dsse 0.0.1 entry (attest-blob) and a hashedrekord 0.0.1 entry (sign-blob) to the test log', async () => {
    const kinds = log.log.entries.map((e) => {
      const b = JSON.parse(e.body.toString('utf8')) as { kind: string; apiVersion: string };
      return `${b.kind}/${b.apiVersion}`;
    });
    expect(kinds).toEqual(['dsse/0.0.1', 'hashedrekord/0.0.1']);
    const bundle = JSON.parse(attestBundle) as { verificationMaterial: { tlogEntries: { kindVersion: unknown }[] } };
    expect(bundle.verificationMaterial.tlogEntries[0]?.kindVersion).toEqual({ kind: 'dsse', version: '0.0.1' });
    // The log indexes cosign's entries as Rekor does: by subject (dsse), by statement hash, and by key (hashedrekord).
    const client = new RekorClient({ url: log.url, retries: 0 });
    const [dsse, hashedrekord] = log.log.entries.map((e) => e.uuid);
    expect(await client.searchIndexByHash(artifactIndexHash(ARTIFACT, ATTESTED.version))).toEqual([dsse]);
    expect(await client.searchIndexByHash(createHash('sha256').update(signedStatement).digest('hex'))).toEqual([hashedrekord]);
    expect(await client.searchIndexByPublicKey(pub)).toEqual([hashedrekord]);
  });

  it('the policy pinned to cosign.pub resolves both UKI digests from the log, with the verified checkpoint', async () => {
    await createCustom(controlPlane().kubeConfig(), 'attestationpolicies', ns, rekorPolicy('from-log', true));
    const p = await settled('from-log');
    expect(conditionOf(p, 'Ready'), JSON.stringify(p.status?.conditions)).toMatchObject({ status: 'True' });
    expect(p.status?.referenceValues).toEqual([
      { name: 'measurement.uki.SHA-384', digest: ATTESTED.uki, version: ATTESTED.version, logIndex: 1000 },
      { name: 'measurement.uki.SHA-384', digest: SIGNED.uki, version: SIGNED.version, logIndex: 1001 },
    ]);
    expect(p.status?.checkpoint).toMatchObject({ origin: log.log.origin, treeSize: 2 });
  });

  it('without the statements the log entries alone give no values (they do not store them)', async () => {
    await createCustom(controlPlane().kubeConfig(), 'attestationpolicies', ns, rekorPolicy('no-statements', false));
    const p = await settled('no-statements');
    expect(conditionOf(p, 'Ready')).toMatchObject({ status: 'False', reason: 'StatementUnavailable' });
    expect(p.status?.referenceValues).toBeUndefined();
  });

  it('the attest-blob bundle alone resolves offline (bundle source)', async () => {
    await createCustom(controlPlane().kubeConfig(), 'attestationpolicies', ns, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'AttestationPolicy',
      metadata: { name: 'offline' },
      spec: {
        tdx: {
          referenceValues: {
            bundle: {
              configMapRef: { name: 'cosign-output', key: 'attested.sigstore.json' },
              trustedRootRef: { name: 'log-roots', key: 'trusted_root.json' },
              publicKey: pub,
              artifactId: ARTIFACT,
              allowedVersions: [ATTESTED.version],
            },
          },
        },
      },
    });
    const p = await settled('offline');
    expect(conditionOf(p, 'Ready'), JSON.stringify(p.status?.conditions)).toMatchObject({ status: 'True' });
    expect(p.status?.referenceValues).toEqual([{ name: 'measurement.uki.SHA-384', digest: ATTESTED.uki, version: ATTESTED.version, logIndex: 1000 }]);
  });
});
