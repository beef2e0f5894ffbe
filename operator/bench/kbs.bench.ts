// KBS handshake benchmark: full RCAR handshakes (auth → attest with `sample` evidence → GET resource, JWE
// decrypted by the client) per second and p50/p99 latency at 1, 16 and 64 concurrent clients on loopback.
// The KBS runs in a worker thread (its own event loop, as in the operator process); the clients run here.
// Reference figures measured in the same run: raw ES256 signatures/s and P-256 ECDH derivations/s.
//
//   npm run bench:kbs            (env KBS_BENCH_SECONDS=3 per concurrency level)
import { diffieHellman, generateKeyPairSync, sign } from 'node:crypto';
import { Agent } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { httpCall } from '../src/sim/guest/http.ts';
import { KbsClient } from '../src/sim/guest/kbs-client.ts';
import { generateTeeKeyPair } from '../src/protocol/tee-key.ts';
import { startTestKbs, TEST_RESOURCE, TEST_SECRET } from '../test/support/kbs-harness.ts';

const SECONDS = Number(process.env['KBS_BENCH_SECONDS'] ?? 3);
const LEVELS = [1, 16, 64];

let kbsActive: () => Promise<number> = () => Promise.resolve(0);

if (!isMainThread) {
  // Every bench client shares 127.0.0.1, so lift the per-address allowance of pending sessions.
  const kbs = await startTestKbs({ server: { maxSessions: 100_000, maxPendingSessionsPerAddress: 100_000 } });
  // Reply to 'elu' with the KBS event loop's active time so the main thread can compute server ms/handshake.
  parentPort!.on('message', () => parentPort!.postMessage({ active: performance.eventLoopUtilization().active }));
  parentPort!.postMessage(kbs.url);
} else {
  await main();
}

/**
 * Issue 10's reproduction: /auth, then /attest with hostile init-data, and a genuine /auth sent while it is
 * being handled. Bodies are built before timing. Reference: a plain /auth in the same run.
 */
async function dosReproduction(url: string): Promise<void> {
  const auth = () => httpCall('POST', `${url}/kbs/v0/auth`, { body: { version: '0.4.0', tee: 'sample', 'extra-params': '' } });
  const timed = async <T>(p: () => Promise<T>): Promise<[T, number]> => {
    const t = performance.now();
    const v = await p();
    return [v, performance.now() - t];
  };
  const reference = (await Promise.all(Array.from({ length: 20 }, () => timed(auth)))).map(([, ms]) => ms).sort((a, b) => a - b)[10]!;
  const key = generateTeeKeyPair().publicKey;
  const body = (initData: string) => Buffer.from(JSON.stringify({ 'init-data': { format: 'toml', body: initData }, 'runtime-data': { nonce: 'x', 'tee-pubkey': key }, 'tee-evidence': { primary_evidence: {}, additional_evidence: '' } }));
  const cases: Array<[string, Buffer]> = [
    ['60,000 newlines (120 KB JSON, under the cap)', body('\n'.repeat(60_000))],
    ['120,000 newlines (240 KB JSON)', body('\n'.repeat(120_000))],
    ['init-data filling the 4 MiB body', body('\n'.repeat(2_096_900))],
  ];
  console.log(`\nDoS reproduction (issue 10): /attest with hostile init-data; reference: median plain /auth ${reference.toFixed(1)} ms (same run); target < 50 ms`);
  for (const [label, raw] of cases) {
    const a = await auth();
    const cookie = String(a.headers['set-cookie']).split(';')[0]!;
    const attest = timed(() => httpCall('POST', `${url}/kbs/v0/attest`, { rawBody: raw, headers: { cookie } }));
    await new Promise((r) => setTimeout(r, 2));
    const [[reply, ms], [, authMs]] = await Promise.all([attest, timed(auth)]);
    const detail = (JSON.parse(reply.body.toString()) as { detail: string }).detail;
    console.log(`  ${label.padEnd(46)} ${(raw.length / 1024).toFixed(0).padStart(5)} KiB  ${ms.toFixed(1).padStart(7)} ms  concurrent /auth ${authMs.toFixed(1).padStart(6)} ms  → ${detail}`);
  }
}

function opsPerSecond(fn: () => void, ms = 1000): number {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  return n / (ms / 1000);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function level(url: string, concurrency: number): Promise<{ rate: number; p50: number; p99: number; n: number; errors: number; cpuMs: number; kbsMs: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  const cpu0 = process.cpuUsage(); // includes the KBS worker thread
  const active0 = await kbsActive();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const client = new KbsClient({ baseUrl: url, agent, handshakeAttempts: 1 });
          await client.handshakeOnce();
          const value = await client.getResource(TEST_RESOURCE);
          if (value.toString() !== TEST_SECRET) throw new Error('wrong plaintext');
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const kbsMs = ((await kbsActive()) - active0) / Math.max(1, latencies.length);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const cpuMs = (cpu.user + cpu.system) / 1000 / Math.max(1, latencies.length);
  return { rate: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), n: latencies.length, errors, cpuMs, kbsMs };
}

async function main(): Promise<void> {
  const worker = new Worker(new URL(import.meta.url));
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  kbsActive = () =>
    new Promise<number>((resolve) => {
      worker.once('message', (m: { active: number }) => resolve(m.active));
      worker.postMessage('elu');
    });

  const signKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const a = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const b = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const data = Buffer.alloc(600, 1);
  const es256 = opsPerSecond(() => sign('sha256', data, { key: signKey, dsaEncoding: 'ieee-p1363' }));
  const ecdh = opsPerSecond(() => diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey }));
  const keygen = opsPerSecond(() => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }));
  // Unavoidable public-key work per handshake: client TEE key + server JWE ephemeral key (2 keygens),
  // JWE ECDH on both sides (2 ECDH), one ES256 EAR signature.
  const floorMs = 1000 * (2 / keygen + 2 / ecdh + 1 / es256);

  await level(url, 4); // warm-up (JIT, sockets)
  console.log(`KBS 0.4.0 full handshakes on loopback (auth → attest [sample] → resource + client JWE decrypt), ${SECONDS}s per level, KBS in a worker thread`);
  console.log(`machine: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (shared)`);
  console.log('clients  handshakes/s  p50 ms  p99 ms  completed  errors  CPU ms/hs (client+KBS)  KBS loop ms/hs');
  const results = [];
  for (const c of LEVELS) {
    const r = await level(url, c);
    results.push({ c, ...r });
    console.log(`${String(c).padStart(7)}  ${r.rate.toFixed(0).padStart(12)}  ${r.p50.toFixed(2).padStart(6)}  ${r.p99.toFixed(2).padStart(6)}  ${String(r.n).padStart(9)}  ${String(r.errors).padStart(6)}  ${r.cpuMs.toFixed(2).padStart(22)}  ${r.kbsMs.toFixed(2).padStart(14)}`);
  }
  console.log(`reference (same run, one core): raw ES256 sign ${es256.toFixed(0)} ops/s, raw P-256 ECDH ${ecdh.toFixed(0)} ops/s, P-256 keygen ${keygen.toFixed(0)} ops/s`);
  console.log(`crypto floor per handshake (2 keygen + 2 ECDH + 1 ES256 at the rates above): ${floorMs.toFixed(2)} ms CPU; measured ${at64cpu(results).toFixed(2)} ms at 64 clients`);
  const at64 = results.find((r) => r.c === 64)!;
  console.log(`KBS-side capacity from its event-loop time at 64 clients: ~${(1000 / at64.kbsMs).toFixed(0)} handshakes/s per core (clients remote)`);
  console.log(`target at 64 clients: >= 500 handshakes/s and p99 < 50 ms → ${at64.rate >= 500 && at64.p99 < 50 ? 'MET' : 'NOT MET'} (${at64.rate.toFixed(0)}/s, p99 ${at64.p99.toFixed(1)} ms)`);
  await dosReproduction(url);
  await worker.terminate();
}

function at64cpu(results: { c: number; cpuMs: number }[]): number {
  return results.find((r) => r.c === 64)?.cpuMs ?? NaN;
}
