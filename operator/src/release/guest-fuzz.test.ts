// Guest fuzz (issue 15, item 3): hostile guests against both ends of secret release. The challenge client
// (push delivery) faces mutated prepare replies — wrong types, truncation, deep nesting, byte noise, swapped
// keys and nonces, oversized and never-ending bodies; the KBS faces mutated /auth and /attest requests.
// Every case must end in a coded refusal within bounded time and memory, and nothing is released except
// to the TEE key that evidence bound to a fresh nonce. Counts: GUEST_FUZZ_CASES (default 5,000 per side).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { AttestationPolicySpecSchema } from '../api/attestation-policy.ts';
import { EarSigner, teePubkeyFromEar, verifyEar } from '../attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../attestation/registry.ts';
import { sampleEvidence } from '../attestation/sample/verifier.ts';
import { httpCall } from '../sim/guest/http.ts';
import { primaryReportData } from '../protocol/runtime-data.ts';
import { generateTeeKeyPair, type TeeKeyPair } from '../protocol/tee-key.ts';
import { mutateJson, rng } from '../../test/support/json-mutator.ts';
import { productionLimitCases, runFuzz } from '../../test/support/kbs-fuzz.ts';
import { startTestKbs } from '../../test/support/kbs-harness.ts';
import { challengeVerifier, injectResource, PREPARE_RESPONSE_MAX_BYTES, type InjectFailureCode } from './challenge.ts';
import { decryptKbsJwe } from './jwe.ts';
import { KBS_ERROR_PREFIX } from './kbs/errors.ts';

const CASES = Number(process.env['GUEST_FUZZ_CASES'] ?? 5000);
const SEED = Number(process.env['GUEST_FUZZ_SEED'] ?? 15);
const PATH = 'default/local-resources/fuzz';
const VALUE = Buffer.from('fuzz-secret-4b1d');
const CODES: InjectFailureCode[] = ['InvalidResourcePath', 'Transport', 'PrepareRejected', 'MalformedPrepareResponse', 'PrepareResponseTooLarge', 'NonceMismatch', 'VerificationFailed', 'UnsupportedTeeKey', 'CommitRejected'];
const tally = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A genuine prepare reply for `nonce`, bound to `key` (composite evidence, no devices). */
function genuinePrepare(nonce: string, key: TeeKeyPair) {
  const evidence = { primary_evidence: sampleEvidence(primaryReportData(nonce, key.publicKey, '')), additional_evidence: '' };
  return { session_id: 'sess-1', nonce, tee_pubkey: key.publicKey, evidence: Buffer.from(JSON.stringify(evidence)).toString('base64') };
}

type Reply = { status: number; body: Buffer; key: TeeKeyPair; genuine: boolean; trickle?: boolean; declaredOnly?: boolean };

describe('guest fuzz', () => {
  it(`the challenge client facing ${CASES} hostile prepare replies: coded refusals, nothing committed but to the attested key`, async () => {
    const r = rng(SEED);
    const attacker = generateTeeKeyPair();
    let current: (nonce: string) => Reply = () => {
      throw new Error('no case');
    };
    let pending: Reply | undefined;
    const committed: Array<{ decryptsWithAttestedKey: boolean; genuine: boolean }> = [];
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        if (req.url?.includes('/commit/')) {
          const jwe = (JSON.parse(body) as { encrypted_resource: never }).encrypted_resource;
          let ok: boolean;
          try {
            ok = decryptKbsJwe(jwe, pending!.key.privateKey).equals(VALUE);
          } catch {
            ok = false;
          }
          committed.push({ decryptsWithAttestedKey: ok, genuine: pending!.genuine });
          res.writeHead(200).end('{}');
          return;
        }
        const reply = (pending = current((JSON.parse(body) as { nonce: string }).nonce));
        if (reply.trickle) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"session_id":"');
          const t = setInterval(() => res.write('a'), 20);
          res.on('close', () => clearInterval(t));
          return;
        }
        if (reply.declaredOnly) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(PREPARE_RESPONSE_MAX_BYTES * 4) });
          res.write('{');
          return;
        }
        res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    cleanups.push(() => new Promise((res) => (server.closeAllConnections(), server.close(() => res()))));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const signer = EarSigner.generate();
    const verify = challengeVerifier({ registry: defaultVerifierRegistry(), policy: AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning' }), policyId: 'agents/dev', referenceValues: [], signer });

    const codes = new Map<string, number>();
    const kinds = new Map<string, number>();
    let maxMs = 0;
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const t0 = performance.now();
    const run = async (label: string, make: (nonce: string) => Reply, timeoutMs = 5_000) => {
      current = make;
      const started = performance.now();
      const result = await injectResource({ baseUrl: url, resourcePath: PATH, plaintext: VALUE, tee: 'sample', verify, retry: { attempts: 1 }, timeoutMs, sleep: () => Promise.resolve() });
      maxMs = Math.max(maxMs, performance.now() - started);
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      tally(kinds, label.split(' ')[0]!);
      if (result.ok) tally(codes, 'ok');
      else {
        expect(CODES, label).toContain(result.code);
        expect(result.message, label).not.toContain(VALUE.toString());
        tally(codes, result.verification ? `${result.code}/${result.verification.code}` : result.code);
      }
      return result;
    };

    // controls: the genuine reply is released (the harness can see a release)
    for (let i = 0; i < 3; i++) {
      const key = generateTeeKeyPair();
      expect((await run('genuine', (n) => ({ status: 200, body: Buffer.from(JSON.stringify(genuinePrepare(n, key))), key, genuine: true }))).ok).toBe(true);
    }
    // targeted: the attacker's key with genuine evidence, an old nonce, evidence for another nonce
    for (let i = 0; i < 20; i++) {
      const key = generateTeeKeyPair();
      await run('swapped-key', (n) => ({ status: 200, body: Buffer.from(JSON.stringify({ ...genuinePrepare(n, key), tee_pubkey: attacker.publicKey })), key: attacker, genuine: false }));
      await run('old-nonce', () => ({ status: 200, body: Buffer.from(JSON.stringify(genuinePrepare('b2xkLW5vbmNl', key))), key, genuine: false }));
      await run('evidence-for-other-nonce', (n) => ({ status: 200, body: Buffer.from(JSON.stringify({ ...genuinePrepare('b3RoZXI', key), nonce: n })), key, genuine: false }));
    }
    // oversized (streamed and declared) and never-ending (slow loris) replies
    for (let i = 0; i < 3; i++) {
      const key = generateTeeKeyPair();
      await run('oversized', () => ({ status: 200, body: Buffer.alloc(PREPARE_RESPONSE_MAX_BYTES + 1, 0x20), key, genuine: false }));
      await run('declared-oversized', () => ({ status: 200, body: Buffer.alloc(0), key, genuine: false, declaredOnly: true }), 500);
      await run('slow-loris', () => ({ status: 200, body: Buffer.alloc(0), key, genuine: false, trickle: true }), 300);
    }
    // random structural mutations of the outer reply and of the evidence inside it
    for (let i = 0; i < CASES; i++) {
      const key = generateTeeKeyPair();
      const inner = r() < 0.4;
      await run(inner ? 'mutated-evidence' : 'mutated-reply', (n) => {
        const g = genuinePrepare(n, key);
        if (!inner) {
          const m = mutateJson(g, r);
          return { status: r() < 0.05 ? pick(r) : 200, body: m.body, key, genuine: false };
        }
        const evidence = JSON.parse(Buffer.from(g.evidence, 'base64').toString()) as unknown;
        const m = mutateJson(evidence, r);
        return { status: 200, body: Buffer.from(JSON.stringify({ ...g, evidence: m.body.toString('base64') })), key, genuine: false };
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    const hostile = committed.filter((c) => !c.genuine);
    console.log(
      `guest fuzz (challenge client): ${[...kinds.values()].reduce((a, b) => a + b, 0)} prepare replies in ${seconds.toFixed(1)} s (max ${maxMs.toFixed(0)} ms per case, RSS +${((rssMax - rss0) / 2 ** 20).toFixed(0)} MiB); ` +
        `commits ${committed.length} (genuine ${committed.length - hostile.length}, mutated-but-still-valid ${hostile.length}, all to the attested key: ${committed.every((c) => c.decryptsWithAttestedKey)}); outcomes ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    // Nothing was released but to the key the evidence was bound to (a mutation that leaves the binding
    // intact — an extra field, another session_id — is still a genuine attestation).
    expect(committed.every((c) => c.decryptsWithAttestedKey)).toBe(true);
    expect(committed.filter((c) => c.genuine)).toHaveLength(3);
    expect(maxMs).toBeLessThan(10_000);
    expect(rssMax - rss0).toBeLessThan(512 * 2 ** 20);
  }, 180_000);

  it(`the KBS facing ${CASES} hostile /auth and /attest requests: coded KBS errors, tokens only for the key the evidence binds`, async () => {
    const r = rng(SEED + 1);
    // Accepted /auth mutations (an extra field, say) leave sessions open: lift the per-address cap (admission
    // has its own tests) so the fuzz keeps reaching the parsers.
    const kbs = await startTestKbs({ server: { refusalLogsPerWindow: 1, maxPendingSessionsPerAddress: 1_000_000 } });
    cleanups.push(() => kbs.close());
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    const AUTH = { version: '0.4.0', tee: 'sample', 'extra-params': '' };
    const types = new Map<string, number>();
    let maxMs = 0;
    let tokens = 0;
    let tokensForOtherKeys = 0;
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const t0 = performance.now();
    const call = async (path: string, body: Buffer, cookie?: string) => {
      const started = performance.now();
      const res = await httpCall('POST', `${kbs.url}/kbs/v0/${path}`, { rawBody: body, agent, ...(cookie ? { headers: { cookie } } : {}) }).catch((e: unknown) => ({ status: -1, headers: {}, body: Buffer.from(String(e)) }));
      maxMs = Math.max(maxMs, performance.now() - started);
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      return res;
    };
    const classify = (label: string, res: { status: number; body: Buffer }) => {
      if (res.status === 200) return tally(types, 'ok');
      expect([401, 404], `${label}: ${res.status} ${res.body.toString().slice(0, 200)}`).toContain(res.status);
      const e = JSON.parse(res.body.toString()) as { type: string; detail: string };
      expect(e.type.startsWith(KBS_ERROR_PREFIX), label).toBe(true);
      expect(e.type, label).not.toMatch(/PluginInternalError/);
      tally(types, `${e.type.slice(KBS_ERROR_PREFIX.length)}:${/(\w+): the attestation was not accepted/.exec(e.detail)?.[1] ?? ''}`);
    };
    for (let i = 0; i < CASES; i++) {
      if (r() < 0.25) {
        const m = mutateJson(AUTH, r);
        const res = await call('auth', m.body);
        classify(`auth ${m.label}`, res);
        continue;
      }
      const auth = await call('auth', Buffer.from(JSON.stringify(AUTH)));
      expect(auth.status).toBe(200);
      const cookie = String((auth.headers as Record<string, unknown>)['set-cookie']).split(';')[0]!;
      const nonce = (JSON.parse(auth.body.toString()) as { nonce: string }).nonce;
      const key = generateTeeKeyPair();
      const genuine = { 'runtime-data': { nonce, 'tee-pubkey': key.publicKey }, 'tee-evidence': { primary_evidence: sampleEvidence(primaryReportData(nonce, key.publicKey, '')), additional_evidence: '' } };
      const m = mutateJson(genuine, r);
      const res = await call('attest', m.body, cookie);
      classify(`attest ${m.label}`, res);
      if (res.status === 200) {
        // a mutation that kept the evidence valid: the token binds the key the evidence was made for
        tokens++;
        const ear = verifyEar((JSON.parse(res.body.toString()) as { token: string }).token, [kbs.signer.publicJwk], new Date());
        if (!(ear.ok && JSON.stringify(teePubkeyFromEar(ear.claims)) === JSON.stringify(key.publicKey))) tokensForOtherKeys++;
      }
    }
    // the production-limit cases (fields at and over their caps in 4 MiB bodies) once each
    const limits = await runFuzz(kbs.url, productionLimitCases(generateTeeKeyPair().publicKey), { concurrency: 1, rounds: 1 });
    for (const l of limits.latencies) expect(l.status === 401 || l.status === -1, `${l.label}: ${l.status} ${l.detail}`).toBe(true);
    const seconds = (performance.now() - t0) / 1000;
    const released = kbs.events.filter((e) => e.type === 'released').length;
    console.log(
      `guest fuzz (KBS): ${CASES} mutated requests + ${limits.requests} production-limit cases in ${seconds.toFixed(1)} s (max ${maxMs.toFixed(0)} ms per request, RSS +${((rssMax - rss0) / 2 ** 20).toFixed(0)} MiB); ` +
        `tokens ${tokens} (all for the key the evidence binds: ${tokensForOtherKeys === 0}), resources released ${released}; outcomes ${JSON.stringify(Object.fromEntries(types))}`,
    );
    expect(tokensForOtherKeys).toBe(0);
    expect(released).toBe(0);
    expect(maxMs).toBeLessThan(10_000);
    expect(rssMax - rss0).toBeLessThan(512 * 2 ** 20);
  }, 180_000);
});

function pick(r: () => number): number {
  return [301, 400, 404, 500, 502, 503][Math.floor(r() * 6)]!;
}
