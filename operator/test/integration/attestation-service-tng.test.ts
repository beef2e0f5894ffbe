// The operator's attestation service against the real TNG 2.12.0 binary (loopback only): a TNG ingress
// (`verify` → the AS over HTTPS pinned to the AS CA) in front of a TNG egress (`attest: coco_asr` → the
// simulated guest's ASR) in front of a tiny HTTP upstream. Passes through only for evidence the named
// AttestationPolicy appraises affirming; each refusal shows its reason in TNG's own output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentInitDataDigest } from '../../src/protocol/agent-init-data.ts';
import { generateAsKeyset } from '../../src/attestation/service/ca.ts';
import { sampleEvidence } from '../../src/attestation/sample/verifier.ts';
import { startAsr, type AsrOptions, type AsrServer } from '../../src/sim/guest/asr.ts';
import { httpCall } from '../../src/sim/guest/http.ts';
import { policyRecord, startAsHarness, type AsHarness } from '../support/as-harness.ts';
import { freePort, launchTng, type TngProcess } from '../support/tng.ts';
import { startUpstream } from '../support/upstream.ts';

const NS = 'agents';
const agentA = { namespace: NS, name: 'agent-a', uid: '0b0c9a8e-5f52-4c1e-9d1a-aaaaaaaaaaaa', policyName: 'dev-affirming', deleting: false };
const agentB = { namespace: NS, name: 'agent-b', uid: '0b0c9a8e-5f52-4c1e-9d1a-bbbbbbbbbbbb', policyName: 'dev-affirming', deleting: false };
const policies = [
  policyRecord(NS, 'dev-affirming', { allowSampleTee: true, sample: { trustAsAffirming: true } }),
  policyRecord(NS, 'dev-warning', { allowSampleTee: true, minimumStatus: 'warning' }),
  policyRecord(NS, 'hardware-only', { tdx: {} }),
];

let as: AsHarness;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  as = await startAsHarness({ policies, agents: [agentA, agentB] });
  upstream = await startUpstream();
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  await upstream?.close();
  await as?.close();
});

interface Tunnel {
  ok: boolean;
  body?: string;
  ingress: string;
  egress: string;
}

/** Egress (ASR evidence) → ingress (verify against `asUrl` with `policyId`) → one HTTP request through it. */
async function tunnel(opts: { policyId: string; asr?: AsrOptions; egress?: Record<string, unknown>; asUrl?: string; caFile?: string; ohttp?: boolean }): Promise<Tunnel> {
  let asr: AsrServer | undefined;
  const procs: TngProcess[] = [];
  try {
    const ePort = await freePort();
    const iPort = await freePort();
    const egressSide = opts.egress ?? (asr = await startAsr(opts.asr), { attest: { aa_provider: 'coco_asr', asr_addr: asr.url } });
    const transport = opts.ohttp ? { ohttp: {} } : {};
    const egress = launchTng({ add_egress: [{ mapping: { in: { host: '127.0.0.1', port: ePort }, out: { host: '127.0.0.1', port: upstream.port } }, ...egressSide, ...transport }] });
    procs.push(egress);
    await egress.waitForOutput(/All services are ready/);
    const caFile = opts.caFile ?? as.caFile;
    const ingress = launchTng(
      { add_ingress: [{ mapping: { in: { host: '127.0.0.1', port: iPort }, out: { host: '127.0.0.1', port: ePort } }, verify: { as_addr: opts.asUrl ?? as.url, policy_ids: [opts.policyId], trusted_certs_paths: [caFile] }, ...transport }] },
      { env: { SSL_CERT_FILE: caFile } },
    );
    procs.push(ingress);
    await ingress.waitForOutput(/All services are ready/);
    let result: Pick<Tunnel, 'ok' | 'body'>;
    try {
      const r = await httpCall('GET', `http://127.0.0.1:${iPort}/`, { timeoutMs: 20_000 });
      result = { ok: r.status === 200, body: r.body.toString() };
    } catch {
      result = { ok: false };
    }
    // The access log / error line is written as the connection ends.
    await ingress.waitForOutput(/access_log|Failed to forward/, 5000).catch(() => undefined);
    return { ...result, ingress: ingress.output(), egress: egress.output() };
  } finally {
    for (const p of procs) await p.stop();
    await asr?.close();
  }
}

describe('the attestation service with the real TNG 2.12.0', () => {
  it('passes a request through to the workload for sample evidence under a policy that trusts it as affirming; TNG logs attested=true', async () => {
    const t = await tunnel({ policyId: `${NS}/dev-affirming` });
    expect(t.ok, t.ingress.slice(-3000)).toBe(true);
    expect(t.body).toBe('hello from the attested workload');
    expect(t.ingress).toMatch(/access_log: .*encrypted=true attested=true/);
    expect(as.events.some((e) => e.type === 'token-issued' && e.policyId === `${NS}/dev-affirming` && e.status === 'affirming')).toBe(true);
  });

  it('OHTTP mode: TNG takes a challenge from the AS, then passes affirming evidence and refuses a non-affirming appraisal', async () => {
    const before = as.events.filter((e) => e.type === 'challenge-issued').length;
    const ok = await tunnel({ policyId: `${NS}/dev-affirming`, ohttp: true });
    expect(ok.ok, ok.ingress.slice(-3000)).toBe(true);
    expect(ok.body).toBe('hello from the attested workload');
    expect(as.events.filter((e) => e.type === 'challenge-issued').length).toBeGreaterThan(before);
    const refused = await tunnel({ policyId: `${NS}/dev-warning`, ohttp: true });
    expect(refused.ok).toBe(false);
    // In OHTTP mode TNG answers the client itself (HTTP 500) with the reason.
    expect(refused.body).toContain('CreateOHttpClientFailed');
    expect(refused.body).toContain('EAR status is not affirming: got warning for cpu0');
  });

  it('an agent-scoped id admits that agent\'s instance (its init-data in the evidence) and refuses another agent\'s: EarStatusNotAffirming', async () => {
    const id = `${NS}/dev-affirming/agent-a`;
    const own = await tunnel({ policyId: id, asr: { initDataDigest: agentInitDataDigest(agentA) } });
    expect(own.ok, own.ingress.slice(-3000)).toBe(true);
    const other = await tunnel({ policyId: id, asr: { initDataDigest: agentInitDataDigest(agentB) } });
    expect(other.ok).toBe(false);
    expect(other.ingress).toContain('EarStatusNotAffirming');
    const none = await tunnel({ policyId: id });
    expect(none.ok).toBe(false);
    expect(none.ingress).toContain('EarStatusNotAffirming');
    expect(as.events.filter((e) => e.type === 'token-issued' && e.policyId === id && e.failure === 'AgentInstanceMismatch')).toHaveLength(2);
  });

  it('the AS refusing (the policy accepts no sample TEE; an unknown policy) refuses the connection with the AS reason in TNG\'s error', async () => {
    const forbids = await tunnel({ policyId: `${NS}/hardware-only` });
    expect(forbids.ok).toBe(false);
    expect(forbids.ingress).toContain('status_code: 403');
    expect(forbids.ingress).toContain('TeeNotAllowed');
    const unknown = await tunnel({ policyId: `${NS}/no-such-policy` });
    expect(unknown.ok).toBe(false);
    expect(unknown.ingress).toContain('PolicyNotFound');
  });

  it('a non-affirming appraisal (sample TEE allowed but not trusted: warning) is refused: EarStatusNotAffirming', async () => {
    const t = await tunnel({ policyId: `${NS}/dev-warning` });
    expect(t.ok).toBe(false);
    expect(t.ingress).toContain('EarStatusNotAffirming');
    expect(as.events.some((e) => e.type === 'token-issued' && e.policyId === `${NS}/dev-warning` && e.status === 'warning')).toBe(true);
  });

  it('evidence bound to another key (not TNG\'s runtime data) is refused: EarStatusNotAffirming', async () => {
    const t = await tunnel({ policyId: `${NS}/dev-affirming`, asr: { evidence: () => sampleEvidence(Buffer.alloc(48, 7)) } });
    expect(t.ok).toBe(false);
    expect(t.ingress).toContain('EarStatusNotAffirming');
    expect(as.events.some((e) => e.type === 'token-issued' && e.failure === 'ReportDataMismatch')).toBe(true);
  });

  it('an egress that does not attest (no_ra) is refused', async () => {
    const t = await tunnel({ policyId: `${NS}/dev-affirming`, egress: { no_ra: true } });
    expect(t.ok).toBe(false);
    expect(t.ingress).not.toMatch(/attested=true/);
    // The egress's certificate carries no evidence extension, so the ingress has nothing to verify.
    expect(t.ingress).toContain('Failed to extract evidence from certificate: CertExtractExtensionFailed');
  });

  it('a token signed by a foreign CA (the AS keyset pinned, another signing key) is refused by TNG', async () => {
    const rogue = await startAsHarness({ policies, keyset: as.keyset, signingKeyset: await generateAsKeyset({ now: Date.now() }) });
    cleanup.push(() => rogue.close());
    const t = await tunnel({ policyId: `${NS}/dev-affirming`, asUrl: rogue.url });
    expect(t.ok).toBe(false);
    expect(rogue.events.some((e) => e.type === 'token-issued' && e.status === 'affirming')).toBe(true);
    expect(t.ingress).toContain('JWK cannot be validated by trust anchor');
  });

  it('an AS whose TLS certificate does not chain to the pinned CA is never asked (invalid peer certificate)', async () => {
    const foreign = await startAsHarness({ policies });
    cleanup.push(() => foreign.close());
    const t = await tunnel({ policyId: `${NS}/dev-affirming`, asUrl: foreign.url });
    expect(t.ok).toBe(false);
    expect(t.ingress).toMatch(/invalid peer certificate: (UnknownIssuer|BadSignature)/);
    expect(foreign.events).toEqual([]);
  });
});
