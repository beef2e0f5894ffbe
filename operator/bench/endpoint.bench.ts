// Gateway benchmark: new TCP connections per second (one HTTP GET each, no keep-alive) through the agent
// endpoint's path — TNG ingress (the gateway config the operator renders, loopback listener) → RATS-TLS →
// TNG egress (coco_asr → the guest ASR, sample evidence) → an HTTP upstream — at 1 and 16 concurrent
// clients. Same-run reference: the same requests straight to the upstream. Also reports how many AS
// verifications the gateway made (TNG 2.12 verifies an egress once and reuses the verdict).
//
//   npm run bench:endpoint        (env ENDPOINT_BENCH_SECONDS=3 per level; needs `make tng`)
import { request, Agent } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { renderIngress } from '../src/protocol/tng-config.ts';
import { startAsr } from '../src/sim/guest/asr.ts';
import { policyRecord, startAsHarness } from '../test/support/as-harness.ts';
import { freePort, launchTng } from '../test/support/tng.ts';
import { startUpstream } from '../test/support/upstream.ts';

const SECONDS = Number(process.env['ENDPOINT_BENCH_SECONDS'] ?? 3);
const LEVELS = [1, 16];
const noKeepAlive = new Agent({ keepAlive: false, maxSockets: Infinity });

function get(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', agent: noKeepAlive, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function measure(port: number, concurrency: number): Promise<{ perSecond: number; p50: number; p99: number; failed: number }> {
  const lat: number[] = [];
  let failed = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        if (await get(port)) lat.push(performance.now() - t);
        else failed++;
      }
    }),
  );
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { perSecond: lat.length / SECONDS, p50: q(0.5), p99: q(0.99), failed };
}

const as = await startAsHarness({ policies: [policyRecord('bench', 'dev', { allowSampleTee: true, sample: { trustAsAffirming: true } })] });
const upstream = await startUpstream('ok');
const asr = await startAsr();
const egressPort = await freePort();
const gatewayPort = await freePort();
const egress = launchTng({ add_egress: [{ mapping: { in: { host: '127.0.0.1', port: egressPort }, out: { host: '127.0.0.1', port: upstream.port } }, attest: { aa_provider: 'coco_asr', asr_addr: asr.url } }] });
await egress.waitForOutput(/All services are ready/);
const gatewayConfig = renderIngress({ listen: { host: '127.0.0.1', port: gatewayPort }, upstream: { host: '127.0.0.1', port: egressPort }, asUrl: as.url, policyId: 'bench/dev', asCaPath: as.caFile, mode: 'rats-tls' });
const gateway = launchTng(JSON.parse(gatewayConfig) as object, { env: { SSL_CERT_FILE: as.caFile } });
await gateway.waitForOutput(/All services are ready/);
try {
  console.log(`endpoint gateway benchmark: ${SECONDS} s per level, ${availableParallelism()} CPUs, load ${loadavg()[0]!.toFixed(2)}; TNG 2.12.0 rats-TLS, sample evidence, one new TCP connection per request`);
  if (!(await get(gatewayPort))) throw new Error(`the gateway does not pass requests: ${gateway.output().slice(-2000)}`);
  const tokensBefore = as.events.filter((e) => e.type === 'token-issued').length;
  for (const c of LEVELS) {
    const direct = await measure(upstream.port, c);
    const through = await measure(gatewayPort, c);
    console.log(
      `  ${String(c).padStart(2)} concurrent: through the gateway ${through.perSecond.toFixed(0).padStart(5)} conn/s (p50 ${through.p50.toFixed(1)} ms, p99 ${through.p99.toFixed(1)} ms, failed ${through.failed})` +
        `   | reference, direct to the upstream: ${direct.perSecond.toFixed(0)} conn/s (p50 ${direct.p50.toFixed(2)} ms)`,
    );
  }
  const tokens = as.events.filter((e) => e.type === 'token-issued').length - tokensBefore;
  console.log(`  AS verifications during the measured connections: ${tokens} (TNG reuses the verdict for an egress it has verified)`);
} finally {
  await gateway.stop();
  await egress.stop();
  await asr.close();
  await upstream.close();
  await as.close();
}
