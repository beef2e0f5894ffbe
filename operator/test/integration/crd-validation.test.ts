// The generated CRDs against the real kube-apiserver: invalid objects are rejected with a message that
// names the field, defaults are applied, immutable fields stay immutable, and kubectl shows the
// descriptions and printer columns.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, VERSION } from '../../src/api/common.ts';
import { apiErrorMessage, createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';

const run = promisify(execFile);
const controlPlane = useControlPlane();

type Obj = { metadata: { name: string; resourceVersion?: string }; spec: Record<string, unknown>; status?: Record<string, unknown> } & Record<string, unknown>;
const KINDS = { confidentialagents: 'ConfidentialAgent', attestationpolicies: 'AttestationPolicy', sealedcredentials: 'SealedCredential' } as const;
type Plural = keyof typeof KINDS;

let ns = '';
let api: CustomObjectsApi;
let counter = 0;

beforeAll(async () => {
  api = controlPlane().kubeConfig().makeApiClient(CustomObjectsApi);
  ns = await createNamespace(controlPlane().kubeConfig(), 'crd');
});

const ref = (plural: Plural) => ({ group: GROUP, version: VERSION, namespace: ns, plural });
const body = (plural: Plural, spec: Record<string, unknown>) => ({
  apiVersion: API_VERSION,
  kind: KINDS[plural],
  metadata: { name: `${plural.slice(0, 5)}-${counter++}` },
  spec,
});
const create = async (plural: Plural, spec: Record<string, unknown>, fieldValidation?: string): Promise<Obj> =>
  (await api.createNamespacedCustomObject({ ...ref(plural), body: body(plural, spec), ...(fieldValidation ? { fieldValidation } : {}) })) as Obj;
const replace = async (plural: Plural, obj: Obj): Promise<Obj> =>
  (await api.replaceNamespacedCustomObject({ ...ref(plural), name: obj.metadata.name, body: obj })) as Obj;
/** The API server's message for a rejected request; fails the test when the request succeeds. */
const rejection = async (request: Promise<unknown>, status = 422): Promise<string> => {
  try {
    await request;
  } catch (err) {
    expect((err as { code?: number }).code).toBe(status);
    return apiErrorMessage(err);
  }
  throw new Error('the API server accepted an invalid object');
};

const localAgent = { instance: { local: {} }, attestationPolicyRef: { name: 'dev' } };
const alibaba = { imageId: 'm-1', vSwitchId: 'vsw-1', securityGroupId: 'sg-1' };
const credential = { encryptedData: 'c2VhbGVk', resourcePath: 'default/local-resources/openclaw_vllm_config' };
const rekor = { publicKey: 'PEM', artifactId: 'cai-openclaw-vllm', allowedVersions: ['1.0.0'] };

describe('defaults', () => {
  it('fills ConfidentialAgent workload, delivery, credentials and provider defaults', async () => {
    const agent = await create('confidentialagents', localAgent);
    expect(agent.spec).toEqual({
      instance: { local: { bootDelaySeconds: 0 } },
      attestationPolicyRef: { name: 'dev' },
      workload: { profile: 'openclaw-vllm', model: 'Qwen3.6-35B-A3B', port: 18789 },
      delivery: { mode: 'Challenge', guestApiPort: 8006 },
      credentials: [],
      endpoint: { enabled: true, egressPort: 41000, protocol: 'HTTP', mode: 'rats-tls', onAttestationFailure: 'Revoke' },
    });
    const cloud = await create('confidentialagents', { ...localAgent, instance: { alibaba } });
    expect(cloud.spec['instance']).toEqual({
      alibaba: {
        ...alibaba,
        regionId: 'cn-beijing',
        zoneId: 'cn-beijing-l',
        instanceType: 'ecs.gn8v-tee.4xlarge',
        systemDisk: { category: 'cloud_essd', sizeGiB: 200 },
        internetMaxBandwidthOut: 0,
        confidentialComputingMode: 'Auto',
      },
    });
  });

  it('fills AttestationPolicy TDX, GPU and Rekor defaults', async () => {
    const policy = await create('attestationpolicies', { tdx: { referenceValues: { rekor } }, gpu: {} });
    expect(policy.spec).toMatchObject({
      allowSampleTee: false,
      minimumStatus: 'affirming',
      reattestIntervalSeconds: 3600,
      tdx: {
        acceptedTcbStatuses: ['UpToDate'],
        pccsUrl: 'https://api.trustedservices.intel.com/tdx/certification/v4',
        requireEventLog: true,
        referenceValues: { rekor: { ...rekor, url: 'https://rekor.sigstore.dev', refreshIntervalSeconds: 3600 } },
      },
      gpu: { required: false, ocsp: 'Prefer' },
    });
  });

  it('fills SealedCredential scope', async () => {
    const cred = await create('sealedcredentials', credential);
    expect(cred.spec['scope']).toEqual({ mode: 'Strict', agents: [] });
  });
});

describe('rejections name the field', () => {
  it.each([
    ['wrong type (string for integer)', 'confidentialagents', { ...localAgent, workload: { port: 'eighty' } }, /spec\.workload\.port: Invalid value: "string": spec\.workload\.port in body must be of type integer/],
    ['wrong type (string for boolean)', 'attestationpolicies', { allowSampleTee: 'yes' }, /spec\.allowSampleTee: Invalid value: "string": spec\.allowSampleTee in body must be of type boolean/],
    ['wrong type (object for list)', 'confidentialagents', { ...localAgent, credentials: { name: 'x' } }, /spec\.credentials: Invalid value: "object": spec\.credentials in body must be of type array/],
    ['unknown enum value', 'confidentialagents', { ...localAgent, delivery: { mode: 'Push' } }, /spec\.delivery\.mode: Unsupported value: "Push": supported values: "Challenge", "KBS"/],
    ['unknown enum value in a list', 'attestationpolicies', { tdx: { acceptedTcbStatuses: ['UpToDate', 'Fine'] } }, /spec\.tdx\.acceptedTcbStatuses\[1\]: Unsupported value: "Fine"/],
    ['unknown profile', 'confidentialagents', { ...localAgent, workload: { profile: 'shell' } }, /spec\.workload\.profile: Unsupported value: "shell"/],
    ['both providers', 'confidentialagents', { ...localAgent, instance: { local: {}, alibaba } }, /spec\.instance: Invalid value: exactly one of instance\.local or instance\.alibaba must be set/],
    ['no provider', 'confidentialagents', { ...localAgent, instance: {} }, /spec\.instance: Invalid value: exactly one of instance\.local or instance\.alibaba must be set/],
    ['two reference-value sources', 'attestationpolicies', { tdx: { referenceValues: { inline: { mrtd: ['ab'.repeat(48)] }, rekor } } }, /spec\.tdx\.referenceValues: Invalid value: at most one of inline, rekor or bundle may be set/],
    ['required field missing', 'confidentialagents', { instance: { local: {} } }, /spec\.attestationPolicyRef: Required value/],
    ['alibaba required fields missing', 'confidentialagents', { ...localAgent, instance: { alibaba: { imageId: 'm-1' } } }, /spec\.instance\.alibaba\.vSwitchId: Required value/],
    ['out of range', 'confidentialagents', { ...localAgent, instance: { local: { bootDelaySeconds: 601 } } }, /spec\.instance\.local\.bootDelaySeconds: Invalid value: 601: spec\.instance\.local\.bootDelaySeconds in body should be less than or equal to 600/],
    ['bad pattern', 'sealedcredentials', { ...credential, resourcePath: 'no-slashes-here' }, /spec\.resourcePath: Invalid value: "no-slashes-here": spec\.resourcePath in body should match/],
    ['bad measurement', 'attestationpolicies', { tdx: { referenceValues: { inline: { rtmr2: ['xyz'] } } } }, /spec\.tdx\.referenceValues\.inline\.rtmr2\[0\]: Invalid value: "xyz"/],
    ['duplicate list-map key', 'confidentialagents', { ...localAgent, credentials: [{ name: 'a' }, { name: 'a' }] }, /spec\.credentials\[1\]: Duplicate value: \{"name":"a"\}/],
    ['sample trusted as affirming without allowing the sample TEE', 'attestationpolicies', { tdx: {}, sample: { trustAsAffirming: true } }, /spec: Invalid value: sample\.trustAsAffirming requires allowSampleTee: true/],
    ['bad instance type', 'confidentialagents', { ...localAgent, instance: { alibaba: { ...alibaba, instanceType: 'gn8v' } } }, /spec\.instance\.alibaba\.instanceType: Invalid value: "gn8v"/],
  ] as const)('%s', async (_what, plural, spec, expected) => {
    expect(await rejection(create(plural, spec))).toMatch(expected);
  });

  it('rejects unknown fields under strict field validation (and prunes them otherwise)', async () => {
    const message = await rejection(create('confidentialagents', { ...localAgent, replicas: 3 }, 'Strict'), 400);
    expect(message).toMatch(/unknown field "spec\.replicas"/);
    const pruned = await create('confidentialagents', { ...localAgent, replicas: 3 });
    expect(pruned.spec).not.toHaveProperty('replicas');
  });
});

describe('immutable fields', () => {
  it('spec.instance cannot change, other fields can', async () => {
    const agent = await create('confidentialagents', localAgent);
    const moved = { ...agent, spec: { ...agent.spec, instance: { local: { bootDelaySeconds: 5 } } } };
    expect(await rejection(replace('confidentialagents', moved))).toMatch(/spec\.instance: Invalid value: instance is immutable/);
    const toCloud = { ...agent, spec: { ...agent.spec, instance: { alibaba } } };
    expect(await rejection(replace('confidentialagents', toCloud))).toMatch(/instance is immutable/);
    const renamed = await replace('confidentialagents', { ...agent, spec: { ...agent.spec, workload: { profile: 'mcp' } } });
    expect(renamed.spec['workload']).toEqual({ profile: 'mcp', model: 'Qwen3.6-35B-A3B', port: 18789 });
  });

  it('SealedCredential resourcePath and scope cannot change, the ciphertext can', async () => {
    const cred = await create('sealedcredentials', credential);
    const path = { ...cred, spec: { ...cred.spec, resourcePath: 'default/local-resources/other' } };
    expect(await rejection(replace('sealedcredentials', path))).toMatch(/spec\.resourcePath: Invalid value: "default\/local-resources\/other": resourcePath is immutable/);
    const scope = { ...cred, spec: { ...cred.spec, scope: { mode: 'NamespaceWide' } } };
    expect(await rejection(replace('sealedcredentials', scope))).toMatch(/spec\.scope: Invalid value: scope is immutable/);
    const resealed = await replace('sealedcredentials', { ...cred, spec: { ...cred.spec, encryptedData: 'bmV3' } });
    expect(resealed.spec['encryptedData']).toBe('bmV3');
  });
});

describe('status subresource and printer columns', () => {
  it('status is written through /status only and validated', async () => {
    const agent = await create('confidentialagents', localAgent);
    const ready = { type: 'Ready', status: 'False', reason: 'AwaitingAttestation', message: 'not attested yet', lastTransitionTime: '2026-01-01T00:00:00Z' };
    // status in a main-resource update is ignored
    const viaMain = await replace('confidentialagents', { ...agent, status: { conditions: [ready] } });
    expect(viaMain.status).toBeUndefined();
    const status = { conditions: [ready], instance: { provider: 'local', id: 'local-7f3a', state: 'Running', address: '127.0.0.1:40123' }, attestation: { teeType: 'sample', status: 'warning', verifiedAt: '2026-01-01T00:00:00Z' } };
    const updated = (await api.replaceNamespacedCustomObjectStatus({ ...ref('confidentialagents'), name: agent.metadata.name, body: { ...viaMain, status } })) as Obj;
    expect(updated.status).toEqual(status);
    const bad = { ...updated, status: { ...status, conditions: [{ ...ready, status: 'Maybe' }] } };
    const message = await rejection(api.replaceNamespacedCustomObjectStatus({ ...ref('confidentialagents'), name: agent.metadata.name, body: bad }));
    expect(message).toMatch(/status\.conditions\[0\]\.status: Unsupported value: "Maybe"/);
    const badTime = { ...updated, status: { ...status, conditions: [{ ...ready, lastTransitionTime: 'yesterday', reason: 'Not a reason' }] } };
    const timeMessage = await rejection(api.replaceNamespacedCustomObjectStatus({ ...ref('confidentialagents'), name: agent.metadata.name, body: badTime }));
    expect(timeMessage).toMatch(/status\.conditions\[0\]\.lastTransitionTime: Invalid value: "yesterday"/);
    expect(timeMessage).toMatch(/status\.conditions\[0\]\.reason: Invalid value: "Not a reason"/);
    // what Date#toISOString writes (milliseconds) is a valid date-time
    const millis = { ...updated, status: { ...status, conditions: [{ ...ready, lastTransitionTime: new Date(0).toISOString() }] } };
    await api.replaceNamespacedCustomObjectStatus({ ...ref('confidentialagents'), name: agent.metadata.name, body: millis });

    const kubectl = controlPlane().assets.kubectl;
    if (!kubectl) throw new Error('kubectl missing from the envtest assets (make envtest builds it)');
    const { stdout } = await run(kubectl, ['--kubeconfig', controlPlane().kubeconfigPath, '-n', ns, 'get', 'cagent', agent.metadata.name]);
    const [header, row] = stdout.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'READY', 'REASON', 'PROVIDER', 'INSTANCE', 'ADDRESS', 'ATTESTATION', 'AGE']);
    expect(row?.split(/\s+/).slice(0, 7)).toEqual([agent.metadata.name, 'False', 'AwaitingAttestation', 'local', 'local-7f3a', '127.0.0.1:40123', 'warning']);
  });

  it('short names and the "confidential" category work in kubectl', async () => {
    await create('attestationpolicies', { allowSampleTee: true });
    await create('sealedcredentials', credential);
    const kubectl = controlPlane().assets.kubectl ?? 'kubectl';
    const get = async (...args: string[]) => (await run(kubectl, ['--kubeconfig', controlPlane().kubeconfigPath, '-n', ns, 'get', ...args])).stdout;
    const policies = await get('attpol');
    expect(policies.split('\n')[0]?.split(/\s+/)).toEqual(['NAME', 'READY', 'REASON', 'SAMPLE', 'ALLOWED', 'REFERENCE', 'VALUES', 'AGE']);
    expect(policies).toMatch(/\btrue\b/);
    const creds = await get('sealedcred');
    expect(creds).toMatch(/default\/local-resources\/openclaw_vllm_config\s+Strict/);
    const all = await get('confidential', '-o', 'name');
    for (const kind of ['confidentialagent', 'attestationpolicy', 'sealedcredential']) expect(all).toContain(`${kind}.confidential-agent.io/`);
  });
});

describe('kubectl explain', () => {
  it.each([
    ['confidentialagents.spec.instance', /Where the TEE instance runs\. Exactly one provider block; immutable/],
    ['cagent.spec.delivery.mode', /Challenge: the operator pushes credentials to the guest/],
    ['attpol.spec.tdx.acceptedTcbStatuses', /TCB statuses that appraise as affirming/],
    ['sealedcred.spec.resourcePath', /KBS resource path repo\/type\/tag the guest reads it at/],
    ['cagent', /ConfidentialAgent runs an AI agent in a TEE instance/],
  ])('%s shows the schema description', async (field, expected) => {
    const kubectl = controlPlane().assets.kubectl ?? 'kubectl';
    // the aggregated OpenAPI document catches up with new CRDs a moment after they are Established
    const out = await waitFor(`kubectl explain ${field}`, async () => {
      const { stdout } = await run(kubectl, ['--kubeconfig', controlPlane().kubeconfigPath, 'explain', field]);
      return expected.test(stdout) ? stdout : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    expect(out).toMatch(expected);
  });
});

// The manifests users copy from (examples/, policies/) must be valid against the CRDs they target.
describe('shipped manifests', () => {
  const REPO = join(import.meta.dirname, '..', '..', '..');
  const yamlFiles = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
      .map((e) => join(e.parentPath, e.name))
      .sort();
  const manifests = ['examples', 'policies'].flatMap((dir) =>
    yamlFiles(join(REPO, dir)).flatMap((file) =>
      parseAllDocuments(readFileSync(file, 'utf8'))
        .map((doc) => doc.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null)
        .filter((obj) => obj?.apiVersion === API_VERSION)
        .map((obj) => [`${relative(REPO, file)} ${obj?.kind ?? ''}/${obj?.metadata?.name ?? ''}`, obj] as const),
    ),
  );

  // (SealedCredentials are produced by `cai seal` against the running operator's key, so examples ship
  // the plaintext Secret manifest to seal rather than a ciphertext.)
  it('include agents and policies', () => {
    expect(new Set(manifests.map(([, obj]) => obj?.kind))).toEqual(new Set(['ConfidentialAgent', 'AttestationPolicy']));
  });

  it.each(manifests)('%s is accepted (server-side dry run, strict field validation)', async (_where, obj) => {
    const plural = (Object.keys(KINDS) as Plural[]).find((p) => KINDS[p] === obj?.kind);
    if (!plural) throw new Error(`unknown kind ${obj?.kind ?? ''}`);
    const body = { ...obj, metadata: { ...obj?.metadata, namespace: ns } };
    await expect(api.createNamespacedCustomObject({ ...ref(plural), body, dryRun: 'All', fieldValidation: 'Strict' })).resolves.toMatchObject({ kind: obj?.kind });
  });
});

describe('kubectl field validation', () => {
  it('kubectl rejects unknown fields by default (strict)', async () => {
    const kubectl = controlPlane().assets.kubectl ?? 'kubectl';
    const manifest = JSON.stringify(body('confidentialagents', { ...localAgent, replica: 2 }));
    const child = execFile(kubectl, ['--kubeconfig', controlPlane().kubeconfigPath, '-n', ns, 'create', '-f', '-']);
    const output = new Promise<{ code: number | null; stderr: string }>((resolve) => {
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    child.stdin?.end(manifest);
    const { code, stderr } = await output;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/unknown field "spec\.replica"/);
  });
});
