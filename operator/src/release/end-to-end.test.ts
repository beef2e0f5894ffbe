// Library-level end to end: `cai seal` output → operator keyring → both delivery modes → the simulated
// guest holds exactly the original value. (The controller-level version runs against the API server.)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { SealedCredentialSpecSchema } from '../api/sealed-credential.ts';
import { AttestationPolicySpecSchema } from '../api/attestation-policy.ts';
import { defaultVerifierRegistry } from '../attestation/registry.ts';
import { sealCommand } from '../cli/commands/seal.ts';
import { BOOTSTRAP_RESOURCE, startSimulatedGuest, type SimulatedGuest } from '../sim/guest/guest.ts';
import { challengeVerifier, injectResource } from './challenge.ts';
import { startTestKbs, type TestKbs } from '../../test/support/kbs-harness.ts';
import { unseal } from './sealing/envelope.ts';
import type { SealingKeyring } from './sealing/keyring.ts';

const VALUE = '{"dingtalk":{"clientId":"ding123","clientSecret":"e2e-original-value-4d2f"}}';
const PATH = 'default/local-resources/openclaw_vllm_config';
let kbs: TestKbs | undefined;
let guest: SimulatedGuest | undefined;
afterEach(async () => {
  await guest?.close();
  await kbs?.close();
  guest = kbs = undefined;
});

async function sealWithCli(keyring: SealingKeyring) {
  const dir = mkdtempSync(join(tmpdir(), 'cai-e2e-'));
  writeFileSync(join(dir, 'cert.pem'), keyring.certificatePem);
  let out = '';
  const code = await sealCommand(['--cert', join(dir, 'cert.pem'), '--from-literal', VALUE, '--name', 'im-secret', '--namespace', 'agents', '--resource-path', PATH, '--agent', 'bot'], {
    stdout: (t) => (out += t),
    stderr: () => {},
    readStdin: () => Promise.resolve(Buffer.alloc(0)),
    env: {},
  });
  expect(code).toBe(0);
  const m = parseAllDocuments(out)[0]!.toJS() as { metadata: { name: string; namespace: string }; spec: unknown };
  return { metadata: m.metadata, spec: SealedCredentialSpecSchema.parse(m.spec) };
}

describe('sealed by cai seal → attested guest decrypts exactly the original value', () => {
  it('KBS (pull) mode', async () => {
    kbs = await startTestKbs();
    const sc = await sealWithCli(kbs.keyring);
    kbs.lists.credentials.splice(0, kbs.lists.credentials.length, { namespace: 'agents', name: 'im-secret', resourcePath: sc.spec.resourcePath, scope: sc.spec.scope, encryptedData: sc.spec.encryptedData });
    guest = await startSimulatedGuest({ host: '127.0.0.1', manifest: [PATH], kbsRetry: { attempts: 3, delayMs: 50 } });
    const verify = challengeVerifier({ registry: defaultVerifierRegistry(), policy: kbs.lists.policies[0]!.spec, policyId: 'agents/dev', referenceValues: [] });
    const boot = await injectResource({ baseUrl: `http://127.0.0.1:${guest.apiPort}`, resourcePath: BOOTSTRAP_RESOURCE, plaintext: Buffer.from(JSON.stringify({ mode: 'kbs', kbs_url: kbs.url })), tee: 'sample', verify });
    expect(boot.ok).toBe(true);
    expect((await guest.waitForResource(PATH, 10_000)).toString()).toBe(VALUE);
  });

  it('Challenge (push) mode', async () => {
    kbs = await startTestKbs();
    const sc = await sealWithCli(kbs.keyring);
    const opened = unseal(sc.spec.encryptedData, kbs.keyring, { namespace: sc.metadata.namespace, name: sc.metadata.name, mode: sc.spec.scope.mode, agents: sc.spec.scope.agents, resourcePath: sc.spec.resourcePath });
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    guest = await startSimulatedGuest({ host: '127.0.0.1', manifest: [] });
    const policy = AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning' });
    const r = await injectResource({
      baseUrl: `http://127.0.0.1:${guest.apiPort}`,
      resourcePath: sc.spec.resourcePath,
      plaintext: opened.plaintext,
      tee: 'sample',
      verify: challengeVerifier({ registry: defaultVerifierRegistry(), policy, policyId: 'agents/dev', referenceValues: [] }),
    });
    expect(r.ok).toBe(true);
    expect(guest.resources().get(PATH)?.toString()).toBe(VALUE);
  });
});
