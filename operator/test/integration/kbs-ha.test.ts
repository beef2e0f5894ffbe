// Highly available KBS (issue 15, item 2): two `cai kbs` processes against the real API server, sharing
// nothing but what they read from it (agents, policies, credentials, the EAR key and the session-cookie
// keys), behind a round-robin loopback load balancer that keeps each guest's source address. 64 guests
// run the RCAR handshake at once, each request landing on the next replica; one replica is SIGKILLed
// while guests hold sessions it opened. Every guest gets exactly its own credential and nothing else.
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent } from 'node:http';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/common.ts';
import { OPERATOR_NODE_FLAGS } from '../../src/app/node-flags.ts';
import { SESSION_KEYS_SECRET } from '../../src/app/kbs-session-keys.ts';
import { sessionKeyId } from '../../src/release/kbs/session-cookie.ts';
import { runCli } from '../../src/cli/main.ts';
import { sampleEvidence } from '../../src/attestation/sample/verifier.ts';
import { primaryReportData } from '../../src/protocol/runtime-data.ts';
import { generateTeeKeyPair } from '../../src/protocol/tee-key.ts';
import { httpCall } from '../../src/sim/guest/http.ts';
import { KbsClient, KbsClientError } from '../../src/sim/guest/kbs-client.ts';
import { seal } from '../../src/release/sealing/envelope.ts';
import { SealingKeyStore } from '../../src/release/sealing/store.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { CLI } from '../support/operator.ts';
import { startRoundRobinProxy, type RoundRobinProxy } from '../support/round-robin-proxy.ts';

const controlPlane = useControlPlane();
const OPERATOR_NS = 'cai-kbs-ha';
const GUESTS = 64;
const address = (i: number) => `127.0.1.${i + 1}`;
const pathOf = (i: number) => `default/ha-${i}/credential`;
const secretOf = (i: number) => `ha-secret-${i}-${(i * 7919).toString(36)}`;

interface Replica {
  proc: ChildProcess;
  port: number;
  output: () => string;
}

function spawnKbs(kubeconfigPath: string, namespace: string): Promise<Replica> {
  const proc = spawn(
    process.execPath,
    [...OPERATOR_NODE_FLAGS, CLI, 'kbs', '--kubeconfig', kubeconfigPath, '--namespace', namespace, '--operator-namespace', OPERATOR_NS, '--kbs-host', '127.0.0.1', '--kbs-port', '0', '--kbs-tls', 'false', '--http-host', '127.0.0.1', '--http-port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return waitFor('cai kbs listening', () => {
    const m = /kbs listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    if (proc.exitCode !== null) throw new Error(`cai kbs exited: ${out.slice(-2000)}`);
    return m ? { proc, port: Number(m[1]), output: () => out } : undefined;
  }, { timeoutMs: 60_000, intervalMs: 50 });
}

const releasedLines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.includes('"kbs released"'))
    .map((l) => JSON.parse(l) as { resourcePath: string; agent: string; peerAddress: string });

describe('KBS replicas behind a round-robin load balancer', () => {
  const replicas: Replica[] = [];
  let proxy: RoundRobinProxy;
  let ns: string;
  let core: CoreV1Api;

  beforeAll(async () => {
    const cp = controlPlane();
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    const api = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: OPERATOR_NS } } });
    ns = await createNamespace(kc, 'kbs-ha');
    const keyring = await new SealingKeyStore().loadOrCreate(core, OPERATOR_NS);
    const ref = (plural: string) => ({ group: GROUP, version: VERSION, namespace: ns, plural });
    const policy = (await api.createNamespacedCustomObject({ ...ref('attestationpolicies'), body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name: 'dev' }, spec: { allowSampleTee: true, minimumStatus: 'warning' } } })) as { metadata: { generation: number } };
    const ready = { type: 'Ready', status: 'True', reason: 'PolicyReady', message: 'ready', lastTransitionTime: new Date().toISOString(), observedGeneration: policy.metadata.generation };
    await api.patchNamespacedCustomObjectStatus({ ...ref('attestationpolicies'), name: 'dev', body: [{ op: 'add', path: '/status', value: { observedGeneration: policy.metadata.generation, conditions: [ready] } }] });
    await Promise.all(
      Array.from({ length: GUESTS }, async (_, i) => {
        const name = `agent-${i}`;
        const scope = { mode: 'Strict' as const, agents: [name] };
        await api.createNamespacedCustomObject({
          ...ref('sealedcredentials'),
          body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'SealedCredential', metadata: { name: `cred-${i}` }, spec: { resourcePath: pathOf(i), scope, encryptedData: seal(keyring.certificatePem, Buffer.from(secretOf(i)), { namespace: ns, name: `cred-${i}`, ...scope, resourcePath: pathOf(i) }) } },
        });
        await api.createNamespacedCustomObject({
          ...ref('confidentialagents'),
          body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'ConfidentialAgent', metadata: { name }, spec: { instance: { local: { bootDelaySeconds: 0 } }, attestationPolicyRef: { name: 'dev' }, delivery: { mode: 'KBS' }, credentials: [{ name: `cred-${i}` }] } },
        });
        // What the operator records once the instance runs: the address the KBS knows it by.
        await api.patchNamespacedCustomObjectStatus({ ...ref('confidentialagents'), name, body: [{ op: 'add', path: '/status', value: { instance: { provider: 'local', id: `local-${i}`, state: 'Running', address: `${address(i)}:18789` } } }] });
      }),
    );
    // Both replicas start together: they race to create the session-key Secret and converge on one.
    replicas.push(...(await Promise.all([spawnKbs(cp.kubeconfigPath, ns), spawnKbs(cp.kubeconfigPath, ns)])));
    const keys = await core.readNamespacedSecret({ name: SESSION_KEYS_SECRET, namespace: OPERATOR_NS });
    expect(Object.keys(keys.data ?? {})).toEqual(['current']);
    proxy = await startRoundRobinProxy(replicas.map((r) => r.port));
  });

  afterAll(async () => {
    for (const r of replicas) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGTERM');
    await Promise.all(replicas.map((r) => (r.proc.exitCode === null && r.proc.signalCode === null ? new Promise((res) => r.proc.once('exit', res)) : undefined)));
    await proxy?.close();
  });

  it('64 concurrent guests each get exactly their credential while a replica dies mid-handshake', async () => {
    const url = `http://127.0.0.1:${proxy.port}`;
    const started = performance.now();
    // Transport failures (the replica a request reached died) are retried, as CDH retries; a refused
    // handshake too (it was cut off half-way).
    let retries = 0;
    const retryReasons = new Map<string, number>();
    const retrying = async <T,>(fn: () => Promise<T>): Promise<T> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await fn();
        } catch (err) {
          if (!(err instanceof KbsClientError && (err.code === 'Transport' || err.code === 'AttestationRefused')) || attempt >= 10) throw err;
          retries++;
          const reason = `${err.code}: ${err.message.replace(/\d+/g, 'N').slice(0, 90)}`;
          retryReasons.set(reason, (retryReasons.get(reason) ?? 0) + 1);
        }
      }
    };
    const outcome = (p: Promise<unknown>) => p.then(() => 'released', (e: unknown) => (e instanceof KbsClientError ? `${e.code}/${e.kbsType ?? ''}` : 'error'));
    const guest = async (i: number) => {
      const agent = new Agent({ keepAlive: false, localAddress: address(i) } as ConstructorParameters<typeof Agent>[0]);
      const client = new KbsClient({ baseUrl: url, agent, timeoutMs: 20_000, handshakeRetryDelayMs: 100 });
      const own = await retrying(() => client.getResource(pathOf(i)));
      // and nothing else: its attested session gets no other guest's credential (cookie and bearer)
      const other = pathOf((i + 1) % GUESTS);
      const viaCookie = await outcome(retrying(() => new KbsClient({ baseUrl: url, agent, getAttempts: 2, handshakeRetryDelayMs: 100 }).getResource(other)));
      const viaBearer = await outcome(retrying(() => client.getResourceWithBearer(other, client.token!, client.teeKey!.privateKey)));
      return { own: own.toString(), viaCookie, viaBearer };
    };
    const running = Promise.all(Array.from({ length: GUESTS }, (_, i) => guest(i)));

    // Kill replica 1 right after it opened a session whose /attest has not been sent yet.
    const victim = replicas[1]!;
    const killedAt = await waitFor('a session opened on replica 1 and not yet attested', () => {
      const log = proxy.log;
      // steady state first: a quarter of the guests already have their credential
      if (log.filter((e) => e.request.startsWith('GET') && e.status === 200).length < GUESTS / 4) return undefined;
      const pending = log.findIndex((e, k) => e.backend === 1 && e.request === 'POST /kbs/v0/auth' && e.status === 200 && !proxy.routing.has(e.client) && !log.slice(k + 1).some((l) => l.client === e.client));
      if (pending < 0) return undefined;
      // The balancer stops routing while the replica dies (as one does once it sees the pod gone), so the
      // guest's /attest for that session reaches the survivor, not a half-dead socket.
      proxy.pause();
      return log.length;
    }, { timeoutMs: 60_000, intervalMs: 1 });
    victim.proc.kill('SIGKILL');
    await new Promise((resolve) => (victim.proc.exitCode !== null || victim.proc.signalCode !== null ? resolve(undefined) : victim.proc.once('exit', resolve)));
    proxy.resume();
    const results = await running;
    const seconds = (performance.now() - started) / 1000;

    for (const [i, r] of results.entries()) {
      expect(r.own, `guest ${i}`).toBe(secretOf(i));
      expect(r.viaCookie, `guest ${i} via cookie`).toBe('Unauthorized/PolicyDeny');
      expect(r.viaBearer, `guest ${i} via bearer`).toBe('Unauthorized/PolicyDeny');
    }

    // Handshakes that crossed replicas: /auth on one, /attest on the other — and after the kill, sessions
    // opened by the dead replica finished on the survivor.
    const log = proxy.log;
    const crossed = { beforeKill: 0, survivedKill: 0, resourceElsewhere: 0 };
    for (const [k, e] of log.entries()) {
      if (e.request === 'POST /kbs/v0/attest' && e.status === 200) {
        const next = log.slice(k + 1).find((l) => l.client === e.client);
        if (next?.request.startsWith('GET') && next.status === 200 && next.backend !== e.backend) crossed.resourceElsewhere++;
      }
      if (e.request !== 'POST /kbs/v0/auth' || e.status !== 200) continue;
      const next = log.slice(k + 1).find((l) => l.client === e.client);
      if (next?.request !== 'POST /kbs/v0/attest' || next.status !== 200 || next.backend === e.backend) continue;
      if (k < killedAt && log.indexOf(next) >= killedAt && e.backend === 1) crossed.survivedKill++;
      else crossed.beforeKill++;
    }
    const releasedBySurvivor = releasedLines(replicas[0]!.output());
    const releasedByVictim = releasedLines(victim.output());
    const released = [...releasedBySurvivor, ...releasedByVictim];
    // Every release went to the agent at that address, for that agent's own path.
    for (const r of released) {
      const i = Number(/agent-(\d+)$/.exec(r.agent)?.[1]);
      expect(r.resourcePath).toBe(pathOf(i));
      expect(r.peerAddress).toBe(address(i));
    }
    // (the SIGKILLed replica's last log lines may never have left its pipe: releases are proven by the
    // guests' decrypted credentials above; the logs prove no release went anywhere else)
    expect(new Set(releasedBySurvivor.map((r) => r.agent)).size).toBeGreaterThan(0);
    console.log(
      `kbs HA: ${GUESTS} guests, ${log.length} requests through the balancer in ${seconds.toFixed(1)} s; replica 1 SIGKILLed after ${killedAt}; ` +
        `handshakes across replicas ${crossed.beforeKill}, sessions of the dead replica finished on the survivor ${crossed.survivedKill}, ` +
        `resources released by the replica that did not attest the guest (EAR from the cookie) ${crossed.resourceElsewhere}; ` +
        `release log lines ${released.length} (survivor ${releasedBySurvivor.length}, victim ${releasedByVictim.length}); guest retries after a dropped connection ${retries}; ` +
        `foreign-resource requests refused ${GUESTS * 2}/${GUESTS * 2}`,
    );
    console.log('retried after', Object.fromEntries(retryReasons));
    expect(crossed.beforeKill).toBeGreaterThan(0);
    // Whether the chosen session's /attest reached the survivor depends on timing on a loaded machine (the
    // guest may already have sent it to the dying replica, then retried from /auth): its count is printed,
    // not asserted. The deterministic form — /auth on one replica, /attest on another — is in
    // release/kbs/replicas.test.ts; here every guest still got exactly its credential across the kill.
    expect(crossed.resourceElsewhere).toBeGreaterThan(0);
    expect(victim.proc.signalCode).toBe('SIGKILL');
  });

  it('a session-key rotation reaches the running replica; sessions opened before it still complete', async () => {
    const survivor = replicas[0]!;
    const url = `http://127.0.0.1:${survivor.port}/kbs/v0`;
    const kid = (cookie: string) => /kbs-session-id=v1\.([\w-]+)\./.exec(cookie)?.[1];
    const open = async () => {
      const r = await httpCall('POST', `${url}/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' }, localAddress: address(0) });
      return { cookie: String(r.headers['set-cookie']).split(';')[0]!, nonce: (JSON.parse(r.body.toString()) as { nonce: string }).nonce };
    };
    const before = await open();
    // The admin's command, against the real API server; it prints key ids (digests), never keys.
    let said = '';
    const io = { stdout: (t: string) => (said += t), stderr: (t: string) => (said += t), readStdin: async () => Buffer.alloc(0), env: { KUBECONFIG: controlPlane().kubeconfigPath } };
    expect(await runCli(['kbs', 'rotate-session-keys', '--namespace', OPERATOR_NS], io)).toBe(0);
    const data = (await core.readNamespacedSecret({ name: SESSION_KEYS_SECRET, namespace: OPERATOR_NS })).data!;
    const rotated = { keyId: sessionKeyId(Buffer.from(data['current']!, 'base64')), previousKeyId: sessionKeyId(Buffer.from(data['previous']!, 'base64')) };
    expect(said).toContain(`sealed with key ${rotated.keyId} from now on; key ${rotated.previousKeyId} still opens`);
    expect(said).not.toContain(data['current']!);
    expect(kid(before.cookie)).toBe(rotated.previousKeyId);
    expect(await runCli(['kbs', 'rotate-session-keys', 'extra'], io)).toBe(2);
    await waitFor('the replica seals with the new key', async () => (kid((await open()).cookie) === rotated.keyId ? true : undefined), { timeoutMs: 20_000, intervalMs: 100 });
    const tee = generateTeeKeyPair();
    const body = { 'runtime-data': { nonce: before.nonce, 'tee-pubkey': tee.publicKey }, 'tee-evidence': { primary_evidence: sampleEvidence(primaryReportData(before.nonce, tee.publicKey, '')), additional_evidence: '' } };
    const att = await httpCall('POST', `${url}/attest`, { body, headers: { cookie: before.cookie }, localAddress: address(0) });
    expect(att.status).toBe(200);
  });
});
