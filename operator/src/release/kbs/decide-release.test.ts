import { beforeAll, describe, expect, it } from 'vitest';
import { AttestationPolicySpecSchema } from '../../api/attestation-policy.ts';
import type { VerifiedEvidence } from '../../attestation/verifier.ts';
import { seal } from '../sealing/envelope.ts';
import { createKeyring, type SealingKeyring } from '../sealing/keyring.ts';
import { admitsFromLists, decideRelease, memoizedUnseal, normalizeAddress, policyForFromLists, type AgentRecord, type CredentialRecord, type PolicyRecord, type ReleaseInputs } from './decide-release.ts';

const at = new Date('2026-11-21T12:00:00Z');
const sample: VerifiedEvidence = { tee: 'sample', teeClass: 'cpu', claims: { svn: '1', report_data: 'x', launch_digest: 'abcde', debug: false }, warnings: [] };
let keyring: SealingKeyring;
let base: () => ReleaseInputs;

beforeAll(async () => {
  keyring = await createKeyring(at);
  const cred = (ns: string, name: string, path: string, value: string, agents: string[] = [], mode: 'Strict' | 'NamespaceWide' = 'Strict'): CredentialRecord => ({
    namespace: ns,
    name,
    resourcePath: path,
    scope: { mode, agents },
    encryptedData: seal(keyring.certificatePem, Buffer.from(value), { namespace: ns, name, mode, agents, resourcePath: path }),
  });
  const credentials = [cred('team-a', 'token', 'r/t/token', 'A-value', ['bot']), cred('team-b', 'token', 'r/t/token', 'B-value')];
  const agents: AgentRecord[] = [
    { namespace: 'team-a', name: 'bot', policyName: 'dev', credentials: ['token'], identity: { peerAddress: '10.0.0.1' } },
    { namespace: 'team-b', name: 'bot', policyName: 'dev', credentials: ['token'], identity: { peerAddress: '10.0.0.2' } },
  ];
  const spec = AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning' });
  const policies: PolicyRecord[] = [
    { namespace: 'team-a', name: 'dev', spec, referenceValues: [] },
    { namespace: 'team-b', name: 'dev', spec, referenceValues: [] },
  ];
  base = () => ({ request: { resourcePath: 'r/t/token', verified: [sample], peerAddress: '10.0.0.1' }, credentials: structuredClone(credentials), agents: structuredClone(agents), policies: structuredClone(policies), keyring, at });
});

const decide = (mutate: (i: ReleaseInputs) => void = () => {}) => {
  const i = base();
  mutate(i);
  const d = decideRelease(i);
  return d.ok ? `ok:${d.agent}:${d.plaintext.toString()}` : d.code;
};

describe('decideRelease', () => {
  it('releases the credential of the agent the requester is, even when two namespaces share a path', () => {
    expect(decide()).toBe('ok:team-a/bot:A-value');
    expect(decide((i) => (i.request.peerAddress = '::ffff:10.0.0.2'))).toBe('ok:team-b/bot:B-value');
  });

  it('refuses with the most specific reason', () => {
    expect(decide((i) => (i.request.resourcePath = 'r/t/none'))).toBe('ResourceNotFound');
    expect(decide((i) => (i.agents = i.agents.map((a) => ({ ...a, credentials: [] }))))).toBe('NotEntitled');
    expect(decide((i) => (i.credentials[0]!.scope.agents = ['someone-else']))).toBe('NotEntitled');
    expect(decide((i) => (i.credentials[0]!.scope.agents = ['bot', 'widened']))).toBe('ScopeMismatch');
    expect(decide((i) => ((i.credentials[0]!.name = 'renamed'), (i.agents[0]!.credentials = ['renamed'])))).toBe('ScopeMismatch');
    expect(decide((i) => (i.request.peerAddress = '10.9.9.9'))).toBe('IdentityMismatch');
    expect(decide((i) => delete i.agents[0]!.identity)).toBe('IdentityMismatch');
    expect(decide((i) => (i.policies = []))).toBe('PolicyNotFound');
    expect(decide((i) => (i.policies[0]!.spec = AttestationPolicySpecSchema.parse({ minimumStatus: 'warning' })))).toBe('SampleTeeNotAllowed');
    expect(decide((i) => (i.policies[0]!.spec = AttestationPolicySpecSchema.parse({ allowSampleTee: true })))).toBe('AppraisalBelowMinimum');
    expect(decide((i) => (i.credentials[0]!.encryptedData = i.credentials[0]!.encryptedData.slice(0, 60)))).toBe('Malformed');
  });

  it('an agent outside a Strict scope list is NotEntitled even if it references the credential', () => {
    expect(
      decide((i) => {
        i.agents.push({ namespace: 'team-a', name: 'intruder', policyName: 'dev', credentials: ['token'], identity: { peerAddress: '10.0.0.7' } });
        i.request.peerAddress = '10.0.0.7';
      }),
    ).toBe('NotEntitled');
  });

  it('memoized unseal returns the same plaintext, re-checks scope and never caches failures', () => {
    const i = base();
    const m = memoizedUnseal(2);
    const c = i.credentials[0]!;
    const scope = { namespace: c.namespace, name: c.name, mode: c.scope.mode, agents: c.scope.agents, resourcePath: c.resourcePath };
    const first = m(c.encryptedData, keyring, scope);
    const second = m(c.encryptedData, keyring, scope);
    expect([first.ok && first.plaintext.toString(), second.ok && second.plaintext.toString()]).toEqual(['A-value', 'A-value']);
    if (second.ok) second.plaintext.fill(0);
    const third = m(c.encryptedData, keyring, scope);
    expect(third.ok && third.plaintext.toString()).toBe('A-value');
    const moved = m(c.encryptedData, keyring, { ...scope, namespace: 'team-b' });
    expect(!moved.ok && moved.code).toBe('ScopeMismatch');
  });

  it('policyForFromLists picks the policy of the agent the requester is, preferring one that admits its TEE', async () => {
    const i = base();
    i.policies.push({ namespace: 'team-a', name: 'strict', spec: AttestationPolicySpecSchema.parse({}), referenceValues: [] });
    i.agents.unshift({ namespace: 'team-a', name: 'prod', policyName: 'strict', credentials: [], identity: { peerAddress: '10.0.0.1' } });
    const policyFor = policyForFromLists({ snapshot: () => i });
    expect((await policyFor({ tee: 'sample', peerAddress: '10.0.0.1' }))?.id).toBe('team-a/dev');
    expect((await policyFor({ tee: 'tdx', peerAddress: '10.0.0.1' }))?.id).toBe('team-a/strict');
    expect((await policyFor({ tee: 'sample', peerAddress: '10.0.0.2' }))?.id).toBe('team-b/dev');
    expect(await policyFor({ tee: 'sample', peerAddress: '10.9.9.9' })).toBeUndefined();
  });

  it('admitsFromLists: /auth only from an agent instance address, or from anywhere when some agent is identified by init-data alone', () => {
    const i = base();
    const admits = admitsFromLists({ snapshot: () => i });
    expect([admits({ peerAddress: '10.0.0.1' }), admits({ peerAddress: '::ffff:10.0.0.2' }), admits({ peerAddress: '10.9.9.9' })]).toEqual([true, true, false]);
    i.agents.push({ namespace: 'team-c', name: 'tdx', policyName: 'dev', credentials: [], identity: { initDataDigest: 'ab'.repeat(48) } });
    expect(admits({ peerAddress: '10.9.9.9' })).toBe(true);
    i.agents = [];
    expect(admits({ peerAddress: '10.0.0.1' })).toBe(false);
  });

  it('refusals name the agent the requester claimed to be (for its Events), never on the wire', () => {
    const i = base();
    i.request.peerAddress = '10.9.9.9';
    const d = decideRelease(i);
    expect(!d.ok && [d.code, d.agent]).toEqual(['IdentityMismatch', 'team-b/bot']);
  });
});

describe('release identity checks (mutation survivors)', () => {
  it('an identity that names neither address nor init-data matches nobody', () => {
    expect(decide((i) => (i.agents[0]!.identity = {}))).toBe('IdentityMismatch');
    // and an agent known by address refuses a requester that sent no address (no throw)
    expect(decide((i) => delete i.request.peerAddress)).toBe('IdentityMismatch');
  });

  it('an agent identified by init-data alone is matched by its digest from any address, case-insensitively', () => {
    const digest = 'AB'.repeat(48);
    const byInitData = (i: ReleaseInputs) => {
      i.agents[0]!.identity = { initDataDigest: digest };
      i.request.peerAddress = '10.7.7.7';
    };
    expect(decide((i) => (byInitData(i), (i.request.initDataDigest = digest.toLowerCase())))).toBe('ok:team-a/bot:A-value');
    expect(decide((i) => (byInitData(i), (i.request.initDataDigest = 'cd'.repeat(48))))).toBe('IdentityMismatch');
    // no init-data presented: refused, not a TypeError
    expect(decide((i) => byInitData(i))).toBe('IdentityMismatch');
  });

  it("uses the policy of the agent's own namespace and name, not a namesake elsewhere or a neighbour in its namespace", () => {
    const lenient = AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning' });
    const strict = AttestationPolicySpecSchema.parse({ minimumStatus: 'warning' });
    // team-a/dev is strict; a lenient namesake in team-c and a lenient neighbour team-a/other come first
    const arrange = (i: ReleaseInputs) => {
      i.policies = [
        { namespace: 'team-c', name: 'dev', spec: lenient, referenceValues: [] },
        { namespace: 'team-a', name: 'other', spec: lenient, referenceValues: [] },
        { namespace: 'team-a', name: 'dev', spec: strict, referenceValues: [] },
      ];
    };
    expect(decide(arrange)).toBe('SampleTeeNotAllowed');
    expect(decide((i) => (arrange(i), (i.policies = i.policies.slice(0, 2))))).toBe('PolicyNotFound');
  });

  it('normalizeAddress strips only a leading IPv4-mapped prefix', () => {
    expect(normalizeAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeAddress('2001:db8::ffff:a00:1')).toBe('2001:db8::ffff:a00:1');
    expect(normalizeAddress(undefined)).toBeUndefined();
  });

  it('admitsFromLists ignores agents with no recorded identity (no address, no init-data)', () => {
    const i = base();
    const admits = admitsFromLists({ snapshot: () => i });
    i.agents = [{ namespace: 'team-a', name: 'new', policyName: 'dev', credentials: [] }, { namespace: 'team-a', name: 'empty', policyName: 'dev', credentials: [], identity: {} }];
    expect(admits({ peerAddress: '10.0.0.1' })).toBe(false);
  });

  it('policyForFromLists skips an agent whose policy is missing and treats sampledevice like sample', async () => {
    const i = base();
    i.agents.unshift({ namespace: 'team-a', name: 'orphan', policyName: 'gone', credentials: [], identity: { peerAddress: '10.0.0.1' } });
    const policyFor = policyForFromLists({ snapshot: () => i });
    expect((await policyFor({ tee: 'tdx', peerAddress: '10.0.0.1' }))?.id).toBe('team-a/dev');
    i.policies.unshift({ namespace: 'team-a', name: 'strict', spec: AttestationPolicySpecSchema.parse({}), referenceValues: [] });
    i.agents.unshift({ namespace: 'team-a', name: 'prod', policyName: 'strict', credentials: [], identity: { peerAddress: '10.0.0.1' } });
    expect((await policyFor({ tee: 'sampledevice', peerAddress: '10.0.0.1' }))?.id).toBe('team-a/dev');
    expect((await policyFor({ tee: 'nvidia', peerAddress: '10.0.0.1' }))?.id).toBe('team-a/strict');
  });
});

describe('release refusal reasons (for logs and the claimed agent’s Events)', () => {
  const reason = (mutate: (i: ReleaseInputs) => void) => {
    const i = base();
    mutate(i);
    const d = decideRelease(i);
    return d.ok ? `released ${d.credential} to ${d.agent}` : `${d.code}: ${d.reason}`;
  };

  it('names the check, the credential and the agent', () => {
    expect(reason(() => {})).toBe('released team-a/token to team-a/bot');
    expect(reason((i) => (i.request.resourcePath = 'r/t/none'))).toBe('ResourceNotFound: no SealedCredential has resourcePath r/t/none');
    expect(reason((i) => (i.agents = []))).toBe('NotEntitled: no ConfidentialAgent in team-b references SealedCredential token');
    expect(reason((i) => (i.credentials[0]!.scope.agents = ['someone-else']))).toBe('NotEntitled: SealedCredential team-a/token scope does not include agent bot');
    expect(reason((i) => (i.policies = []))).toBe('PolicyNotFound: AttestationPolicy team-a/dev of agent bot does not exist');
    const onlyTeamA = (i: ReleaseInputs) => ((i.credentials = i.credentials.slice(0, 1)), (i.agents = i.agents.slice(0, 1)));
    expect(reason((i) => (onlyTeamA(i), (i.agents[0]!.identity = { initDataDigest: 'ab'.repeat(48) })))).toBe("IdentityMismatch: requester init-data is not agent team-a/bot's");
    expect(reason((i) => (i.policies[0]!.spec = AttestationPolicySpecSchema.parse({ minimumStatus: 'warning' })))).toMatch(/^SampleTeeNotAllowed: agent team-a\/bot: \S/);
    expect(reason((i) => (i.credentials[0]!.encryptedData = i.credentials[0]!.encryptedData.slice(0, 60)))).toMatch(/^Malformed: SealedCredential team-a\/token: \S/);
  });
});
