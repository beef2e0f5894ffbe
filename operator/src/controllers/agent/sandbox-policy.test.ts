// The sandbox-policy phase alone, then with the real provision/attest/release phases against a real
// simulated guest (sample TEE) in challenge mode: the digest goes into the init-data at creation, the
// evidence must bind that init-data, the document rides in the attested bootstrap push and the guest's
// PEP enforces exactly it.
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AttestationPolicy } from '../../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../../api/confidential-agent.ts';
import type { SealedCredential } from '../../api/sealed-credential.ts';
import { EarSigner } from '../../attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../../attestation/registry.ts';
import { initDataForPolicy, policyDigestFromInitData } from '../../pep/attestation.ts';
import { parsePolicy, policyDigest } from '../../pep/policy.ts';
import { createKeyring } from '../../release/sealing/keyring.ts';
import { startSimulatedGuest, type SimulatedGuest } from '../../sim/guest/guest.ts';
import { agent, NS, phaseContext, readyPolicy, sealedCredential, T0 } from '../../../test/support/agent-fixtures.ts';
import { memoryConfigMaps } from '../../../test/support/config-maps.ts';
import { FakeInstanceProvider } from '../../../test/support/fake-provider.ts';
import { ManualClock } from '../../../test/support/manual-clock.ts';
import { MemoryInformer } from '../../../test/support/memory-informer.ts';
import { defaultPolicyText, makeWorkspace } from '../../../test/support/pep.ts';
import { recordingClients, recordingEvents } from '../../../test/support/recording-clients.ts';
import { agentReconciler } from './controller.ts';
import { agentLifecycle } from './lifecycle.ts';
import { provisionPhase } from './provision.ts';
import { sandboxPolicyPhase } from './sandbox-policy.ts';

const TEXT = defaultPolicyText();
const DIGEST = policyDigest(TEXT);
const ref = { configMapRef: { name: 'pep', key: 'policy.json' } };
// A policy that differs from the default in one visible way: `ls` is not an allowed program.
const NO_LS = (() => {
  const p = JSON.parse(TEXT) as { programs: { deny: string[] } };
  p.programs.deny = [...p.programs.deny, 'ls'];
  return JSON.stringify(p, null, 2);
})();

function setup() {
  const cms = memoryConfigMaps();
  cms.set(NS, 'pep', { 'policy.json': TEXT });
  return { cms, phase: sandboxPolicyPhase({ configMaps: cms }) };
}

describe('sandbox-policy phase', () => {
  it('no spec.sandboxPolicy: True, nothing to launch with, no ConfigMap read', async () => {
    const { cms, phase } = setup();
    const r = await phase.reconcile(agent('a'), phaseContext());
    expect(r.condition).toMatchObject({ status: 'True', reason: 'NoSandboxPolicy' });
    expect(r.facts).toBeUndefined();
    expect(cms.reads).toBe(0);
  });

  it('resolves the ConfigMap into status and hands the document, digest and init-data to later phases', async () => {
    const { phase } = setup();
    const r = await phase.reconcile(agent('a', { sandboxPolicy: ref }), phaseContext());
    expect(r.condition).toMatchObject({ status: 'True', reason: 'SandboxPolicyResolved' });
    expect(r.status?.sandboxPolicy).toEqual({ configMap: 'pep', key: 'policy.json', digest: DIGEST });
    expect(r.facts?.sandboxPolicy?.document).toBe(TEXT);
    expect(policyDigestFromInitData(r.facts!.sandboxPolicy!.initData)).toBe(DIGEST);
    expect(r.requeueAfterMs).toBe(60_000);
  });

  it('a missing ConfigMap, a missing key, an invalid document or a failed pin is refused with the reason', async () => {
    const { cms, phase } = setup();
    cms.set(NS, 'bad', { 'policy.json': '{"apiVersion": 1}', other: TEXT });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ configMapRef: { name: 'nope', key: 'policy.json' } }, /ConfigMap agents\/nope key policy.json: the ConfigMap does not exist/],
      [{ configMapRef: { name: 'pep', key: 'missing' } }, /key missing: the key does not exist/],
      [{ configMapRef: { name: 'bad', key: 'policy.json' } }, /ConfigMap agents\/bad key policy.json: /],
      [{ ...ref, digest: policyDigest('{}') }, new RegExp(`its digest ${DIGEST} is not the pinned spec.sandboxPolicy.digest ${policyDigest('{}')}`)],
    ];
    for (const [sandboxPolicy, message] of cases) {
      const r = await phase.reconcile(agent('a', { sandboxPolicy }), phaseContext());
      expect(r.condition.status).toBe('False');
      expect(r.condition.reason).toBe('SandboxPolicyInvalid');
      expect(r.condition.message).toMatch(message);
      expect(r.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'SandboxPolicyInvalid' })]);
      expect(r.facts).toBeUndefined();
    }
  });

  it('the alibaba provider cannot launch with init-data: refused before any instance exists', async () => {
    const { cms, phase } = setup();
    const a = agent('a', { sandboxPolicy: ref, instance: { alibaba: { regionId: 'cn-beijing', zoneId: 'cn-beijing-l', instanceType: 'ecs.gn8v-tee.4xlarge', imageId: 'm-1', vSwitchId: 'vsw-1', securityGroupId: 'sg-1' } } });
    const r = await phase.reconcile(a, phaseContext());
    expect(r.condition).toMatchObject({ status: 'False', reason: 'InitDataUnsupported' });
    expect(cms.reads).toBe(0);
  });

  it('a document other than the one the running instance launched with is refused, naming both digests', async () => {
    const { cms, phase } = setup();
    const running = (digest?: string) => ({ status: { instance: { provider: 'local' as const, id: 'i-1', state: 'Running', ...(digest ? { sandboxPolicyDigest: digest } : {}) } } });
    expect((await phase.reconcile(agent('a', { sandboxPolicy: ref }, running(DIGEST)), phaseContext())).condition.status).toBe('True');

    cms.set(NS, 'pep', { 'policy.json': NO_LS });
    const changed = await phase.reconcile(agent('a', { sandboxPolicy: ref }, running(DIGEST)), phaseContext());
    expect(changed.condition).toMatchObject({ status: 'False', reason: 'SandboxPolicyChanged' });
    expect(changed.condition.message).toContain(`pep/policy.json now holds sandbox policy ${policyDigest(NO_LS)}, but instance i-1 launched with ${DIGEST} in its attested init-data`);
    expect(changed.status?.sandboxPolicy?.digest).toBe(policyDigest(NO_LS));
    expect(changed.facts).toBeUndefined();

    const legacy = await phase.reconcile(agent('a', { sandboxPolicy: ref }, running()), phaseContext());
    expect(legacy.condition.message).toContain('instance i-1 launched without a sandbox policy in its init-data');
    const removed = await phase.reconcile(agent('a', {}, running(DIGEST)), phaseContext());
    expect(removed.condition).toMatchObject({ status: 'False', reason: 'SandboxPolicyChanged' });
    expect(removed.condition.message).toContain(`spec.sandboxPolicy was removed, but instance i-1 launched with sandbox policy ${DIGEST}`);
  });
});

describe('provision with a sandbox policy', () => {
  it('writes the init-data into the create spec, records the launched digest, and binds it into the token', async () => {
    const provider = new FakeInstanceProvider();
    const phase = provisionPhase({ providers: { local: provider }, clusterId: 'c1', manifestOf: () => [] });
    const facts = { sandboxPolicy: { digest: DIGEST, document: TEXT, initData: initDataForPolicy(DIGEST) } };
    const r = await phase.reconcile(agent('a', { sandboxPolicy: ref }), phaseContext(facts));
    expect(provider.createSpecs[0]).toMatchObject({ initData: initDataForPolicy(DIGEST) });
    expect(r.status?.instance?.sandboxPolicyDigest).toBe(DIGEST);
    // the same agent without a policy gets another token: a lost create is never adopted under another policy
    const plain = await phase.reconcile(agent('a'), phaseContext());
    expect(plain.status?.instance?.id).not.toBe(r.status?.instance?.id);
    expect(plain.status?.instance?.sandboxPolicyDigest).toBeUndefined();
    expect(provider.createSpecs[1]).not.toHaveProperty('initData');
    // a known instance keeps the digest status recorded for it
    const again = await phase.reconcile(agent('a', { sandboxPolicy: ref }, { status: { instance: r.status!.instance! } }), phaseContext(facts));
    expect(again.status?.instance).toEqual(r.status?.instance);
  });
});

describe('challenge mode end to end (simulated guest, sample TEE)', () => {
  let guest: SimulatedGuest | undefined;
  const workspace = makeWorkspace();
  afterEach(async () => {
    await guest?.close();
    guest = undefined;
  });
  afterAll(() => workspace.cleanup());

  async function world(opts: { guestInitData?: string; policySpec?: Record<string, unknown>; document?: string }) {
    guest = await startSimulatedGuest({ host: '127.0.0.1', manifest: [], pepWorkspace: workspace.dir, ...(opts.guestInitData ? { initData: opts.guestInitData } : {}) });
    const agents = new MemoryInformer<ConfidentialAgent>();
    const policies = new MemoryInformer<AttestationPolicy>();
    const credentials = new MemoryInformer<SealedCredential>();
    const keyring = await createKeyring(new Date(T0));
    policies.set(readyPolicy('dev', { allowSampleTee: true, minimumStatus: 'warning', ...opts.policySpec }));
    credentials.set(sealedCredential(keyring, 'cred', 'default/local-resources/token', 'unit-secret-sandbox', ['a']));
    const cms = memoryConfigMaps();
    cms.set(NS, 'pep', { 'policy.json': opts.document ?? TEXT });
    const provider = new FakeInstanceProvider();
    provider.ports = { 8006: guest.apiPort };
    const { clients } = recordingClients({ confidentialagents: agents as unknown as MemoryInformer });
    const events = recordingEvents();
    const phases = agentLifecycle({
      configMaps: cms,
      providers: { local: provider },
      clusterId: 'c1',
      manifestOf: () => [],
      policies,
      credentials,
      keyring: () => keyring,
      registry: defaultVerifierRegistry(),
      signer: EarSigner.generate(),
      injectRetry: { attempts: 1 },
    });
    const reconcile = agentReconciler({ agents, clients, events: events.recorder, phases });
    agents.set(agent('a', { credentials: [{ name: 'cred' }], sandboxPolicy: ref }));
    const clock = new ManualClock(T0);
    const run = () => reconcile({ namespace: NS, name: 'a' }, { logger: pino({ level: 'silent' }), signal: new AbortController().signal, clock });
    const cond = (type: string) => agents.get(NS, 'a')?.status?.conditions?.find((c) => c.type === type);
    return { run, cond, agents, provider, cms, guest };
  }

  const check = async (g: SimulatedGuest, command: string) => {
    const raw = await g.pep()!.service.handle(Buffer.from(JSON.stringify({ id: 'r1', method: 'check_intent', params: { version: 1, run_id: 'r', session_key: 's', agent_id: 'a', tool_name: 'exec', skill_id: 'exec', params: { command, workdir: '/workspace' }, issued_at_ms: T0 } })));
    return JSON.parse(raw!) as { result?: { decision: string }; error?: { code: string; rule_id: string } };
  };

  it('Ready; the guest PEP loaded exactly the ConfigMap document and decides by it; the required digest is checked', async () => {
    const digest = policyDigest(NO_LS);
    const w = await world({ guestInitData: initDataForPolicy(digest), document: NO_LS, policySpec: { sandboxPolicy: { requiredDigests: [digest] } } });
    await w.run();
    expect(w.cond('Ready')).toMatchObject({ status: 'True' });
    expect(w.agents.get(NS, 'a')?.status?.instance?.sandboxPolicyDigest).toBe(digest);
    expect(w.provider.createSpecs[0]).toMatchObject({ initData: initDataForPolicy(digest) });
    expect(w.guest.pep()?.digest).toBe(digest);
    expect(parsePolicy(NO_LS).policy.programs.deny).toContain('ls');
    expect((await check(w.guest, 'ls /workspace')).error?.code).toBe('POLICY_DENY');
    expect((await check(w.guest, 'cat /workspace/notes.txt')).result?.decision).toBe('allow');
    expect((await check(w.guest, 'curl http://example.com')).error?.code).toBe('POLICY_DENY');
  });

  it('a guest whose launch measured other init-data is refused (InitDataMismatch); its PEP never loads', async () => {
    const w = await world({ guestInitData: initDataForPolicy(policyDigest(NO_LS)) });
    await w.run();
    expect(w.cond('Attested')).toMatchObject({ status: 'False', reason: 'InitDataMismatch' });
    expect(w.guest.pep()).toBeUndefined();
    expect(w.guest.resources().size).toBe(0);
  });

  it('an AttestationPolicy requiring another digest refuses with SandboxPolicyMismatch naming both digests', async () => {
    const other = policyDigest(NO_LS);
    const w = await world({ guestInitData: initDataForPolicy(DIGEST), policySpec: { sandboxPolicy: { requiredDigests: [other] } } });
    await w.run();
    expect(w.cond('Attested')).toMatchObject({ status: 'False', reason: 'SandboxPolicyMismatch' });
    expect(w.cond('Attested')?.message).toBe(`the guest runs sandbox policy digest ${DIGEST}; the AttestationPolicy requires sandbox policy digest ${other}`);
    expect(w.guest.resources().size).toBe(0);
  });

  it('changing the ConfigMap after launch: SandboxPolicyChanged, Ready False, nothing more pushed', async () => {
    const w = await world({ guestInitData: initDataForPolicy(DIGEST) });
    await w.run();
    expect(w.cond('Ready')?.status).toBe('True');
    const pushed = w.guest.events.history.length;
    w.cms.set(NS, 'pep', { 'policy.json': NO_LS });
    await w.run();
    expect(w.cond('SandboxPolicyReady')).toMatchObject({ status: 'False', reason: 'SandboxPolicyChanged' });
    expect(w.cond('Ready')).toMatchObject({ status: 'False', reason: 'SandboxPolicyChanged' });
    expect(w.cond('CredentialsReleased')).toMatchObject({ status: 'False', reason: 'WaitingForSandboxPolicy' });
    expect(w.guest.events.history.length).toBe(pushed);
    expect(w.guest.pep()?.digest).toBe(DIGEST);
    // restoring the document restores the agent
    w.cms.set(NS, 'pep', { 'policy.json': TEXT });
    await w.run();
    expect(w.cond('Ready')?.status).toBe('True');
  });
});
