// Attestation service benchmark: TNG-shaped POST /attestation requests (one per TNG connection in
// background-check mode) verified, appraised and answered with a signed EAR, per second and p50/p99 latency at
// 1, 16 and 64 concurrent clients over HTTPS on loopback, for the sample TEE and for a real TDX quote (the GCP
// COS fixture with its CC event log, re-signed over each request's runtime data by the test "Intel" PKI,
// collateral from a loopback PCCS, UKI reference value pinned). The AS runs in a worker thread with its own
// event loop, as in the operator; the clients run here. Same-run reference: raw ES256 signatures/s (each
// response carries one) on this thread. The AS thread's own CPU time per verification is printed too: on a
// shared 2-core machine it is the steadier figure (clients, TLS and other load share the cores).
//
//   npm run bench:as            (env AS_BENCH_SECONDS=3 per level)
import { generateKeyPairSync, sign } from 'node:crypto';
import { Agent } from 'node:https';
import { availableParallelism, loadavg } from 'node:os';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { hardwareVerifiersWith } from '../src/app/verifiers.ts';
import { httpCall } from '../src/sim/guest/http.ts';
import { policyRecord, startAsHarness, tngShapedRequest } from '../test/support/as-harness.ts';
import { startHardwareEvidence } from '../test/support/hardware-evidence.ts';

const SECONDS = Number(process.env['AS_BENCH_SECONDS'] ?? 3);
const LEVELS = [1, 16, 64];
const POOL = 64;

interface Ready {
  url: string;
  ca: string;
  sample: Buffer[];
  tdx: Buffer[];
}

function es256PerSecond(ms: number): number {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const msg = Buffer.alloc(900, 7); // about the size of a signed EAR's signing input
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

const statusOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as { submods: { cpu0: { 'ear.status': string } } }).submods.cpu0['ear.status'];

let serverActive: () => Promise<number> = () => Promise.resolve(0);

async function level(ready: Ready, bodies: Buffer[], concurrency: number): Promise<{ rps: number; p50: number; p99: number; errors: number; serverMs: number }> {
  const active0 = await serverActive();
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca: ready.ca });
  const lat: number[] = [];
  let errors = 0;
  let i = 0;
  const end = performance.now() + SECONDS * 1000;
  const client = async () => {
    while (performance.now() < end) {
      const body = bodies[i++ % bodies.length]!;
      const t = performance.now();
      const r = await httpCall('POST', `${ready.url}/attestation`, { rawBody: body, agent: agent as never, ca: ready.ca, timeoutMs: 30_000 });
      if (r.status !== 200 || statusOf(r.body.toString()) !== 'affirming') errors++;
      else lat.push(performance.now() - t);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, client));
  const secs = (performance.now() - start) / 1000;
  const serverMs = ((await serverActive()) - active0) / Math.max(1, lat.length + errors);
  agent.destroy();
  lat.sort((a, b) => a - b);
  return { rps: lat.length / secs, p50: lat[Math.floor(lat.length * 0.5)] ?? NaN, p99: lat[Math.floor(lat.length * 0.99)] ?? NaN, errors, serverMs };
}

async function main(): Promise<void> {
  const worker = new Worker(new URL(import.meta.url));
  const ready = await new Promise<Ready>((resolve, reject) => {
    worker.once('message', (m: Ready) => resolve({ ...m, sample: m.sample.map((b) => Buffer.from(b)), tdx: m.tdx.map((b) => Buffer.from(b)) }));
    worker.once('error', reject);
  });
  serverActive = () => new Promise((resolve) => {
    worker.once('message', (m: { active: number }) => resolve(m.active));
    worker.postMessage('elu');
  });
  console.log(`attestation service benchmark: ${SECONDS} s per level, ${availableParallelism()} CPUs, load ${loadavg()[0]!.toFixed(2)}; AS in a worker thread, HTTPS keep-alive`);
  const reference = es256PerSecond(1000);
  console.log(`reference (same run, this thread): raw ES256 signatures ${reference.toFixed(0)}/s`);
  for (const [name, bodies] of [['sample', ready.sample], ['tdx', ready.tdx]] as const) {
    await level(ready, bodies, 4); // warm-up (lazy TDX stack, collateral fetch, PCK chain memo)
    for (const c of LEVELS) {
      const r = await level(ready, bodies, c);
      console.log(`  ${name.padEnd(6)} c=${String(c).padStart(2)}  ${r.rps.toFixed(0).padStart(6)} verifications/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  errors ${r.errors}  AS thread CPU ${r.serverMs.toFixed(2)} ms/verification (≈ ${(1000 / r.serverMs).toFixed(0)}/s per core)`);
    }
  }
  console.log(`reference again (end of run): raw ES256 signatures ${es256PerSecond(1000).toFixed(0)}/s`);
  await worker.terminate();
  process.exit(0);
}

async function serve(): Promise<void> {
  const hw = await startHardwareEvidence();
  const hardware = hardwareVerifiersWith({ trustAnchors: hw.anchors, egress: { allowedPccsUrls: [hw.pccsUrl], allowedRekorUrls: [] }, configMap: () => undefined });
  const as = await startAsHarness({
    policies: [
      policyRecord('bench', 'sample', { allowSampleTee: true, sample: { trustAsAffirming: true } }),
      policyRecord('bench', 'tdx', { tdx: { pccsUrl: hw.pccsUrl, requireEventLog: true, referenceValues: { inline: { ukiSha384: [hw.ukiSha384] } } } }),
    ],
    verifiers: hardware.verifiers,
    // Every client shares 127.0.0.1: lift the per-client rate limit; the concurrency bound stays the production default.
    rateLimit: { perSecond: 1e9, burst: 1e9 },
  });
  // Bodies are built before timing: TNG computes its runtime data and evidence on the guest side, not at the AS.
  const attester = hw.attester({ gpus: 0 });
  const tdx: Buffer[] = [];
  for (let i = 0; i < POOL; i++) {
    let evidence: unknown;
    const body = tngShapedRequest({ policyId: 'bench/tdx', tee: 'tdx', evidence: (rd) => (evidence = rd) }).body;
    const req = JSON.parse(body.toString()) as { verification_requests: Array<{ evidence: string }> };
    req.verification_requests[0]!.evidence = Buffer.from(JSON.stringify(await attester.primary(evidence as Buffer))).toString('base64url');
    tdx.push(Buffer.from(JSON.stringify(req)));
  }
  const sample = Array.from({ length: POOL }, () => tngShapedRequest({ policyId: 'bench/sample' }).body);
  // Reply with the AS thread's CPU time (ms), so the main thread can compute AS CPU per verification: unlike wall
  // time it does not grow when other processes take the cores.
  parentPort!.on('message', () => {
    const u = process.threadCpuUsage();
    parentPort!.postMessage({ active: (u.user + u.system) / 1000 });
  });
  parentPort!.postMessage({ url: as.url, ca: as.keyset.caCertPem, sample, tdx } satisfies Ready);
}

if (isMainThread) await main();
else await serve();
