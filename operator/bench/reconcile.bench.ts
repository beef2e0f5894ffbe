// npm run bench:reconcile — 1,000 ConfidentialAgents with the `local` provider against a real
// kube-apiserver + etcd. Prints: time until all are Provisioned (and Ready), reconciles/s, the operator's
// peak RSS (VmHWM) and idle CPU over 30 s once settled, next to the raw API-server rate for the same
// number of status patches measured in this run. The operator runs as its own process.
// First, in the same run and against the same API server: this project's runtime against a
// controller-runtime reference doing the same work per object, BENCH_ROUNDS (default 3) alternating rounds
// (runtime-compare.ts; BENCH_ONLY=compare
// stops after it, BENCH_COMPARE=0 skips it, BENCH_CPU_PROF=dir writes the TypeScript side's --cpu-prof).
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../src/api/common.ts';
import { startLocalCloud } from '../src/sim/local/cloud-server.ts';
import { workloadGuestLauncher } from '../src/sim/local/guest-launcher.ts';
import { startControlPlane } from '../src/envtest/control-plane.ts';
import { freePort } from '../src/envtest/ports.ts';
import { shareDispatcher } from '../src/runtime/shared-dispatcher.ts';
import { spawnOperator } from '../test/support/operator.ts';
import { apiServerRequestCounts } from '../test/support/apiserver-metrics.ts';
import { compareRuntimes, printComparison, procStat, type CompareRound } from './runtime-compare.ts';

const N = Number(process.env.BENCH_AGENTS ?? 1000);
const CONCURRENCY = 16;
const IDLE_WINDOW_MS = Number(process.env.BENCH_IDLE_MS ?? 30_000);
const REPO = join(import.meta.dirname, '..', '..');

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

const agentBody = (name: string) => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: 'ConfidentialAgent',
  metadata: { name },
  spec: { instance: { local: { bootDelaySeconds: 0 } }, attestationPolicyRef: { name: 'bench' } },
});

async function main(): Promise<void> {
  const cp = await startControlPlane({ crdDir: join(REPO, 'crds') });
  const cloud = await startLocalCloud({ launchGuest: workloadGuestLauncher(), pendingMs: 1 });
  let operator: ReturnType<typeof spawnOperator> | undefined;
  try {
    const kc = shareDispatcher(cp.kubeConfig());
    let comparison: CompareRound[] = [];
    const workers = Number(process.env.BENCH_WORKERS ?? 16);
    if (process.env.BENCH_COMPARE !== '0') {
      const { apiServer, etcd } = cp.pids();
      comparison = await compareRuntimes({ kc, kubeconfigPath: cp.kubeconfigPath, pids: { apiServer: apiServer ?? 0, etcd: etcd ?? 0 }, n: N, workers, rounds: Number(process.env.BENCH_ROUNDS ?? 3), ...(process.env.BENCH_CPU_PROF ? { cpuProfDir: process.env.BENCH_CPU_PROF } : {}) });
      printComparison(N, workers, comparison);
      if (process.env.BENCH_ONLY === 'compare') return;
    }
    const core = kc.makeApiClient(CoreV1Api);
    const crd = kc.makeApiClient(CustomObjectsApi);
    for (const name of ['bench-raw', 'bench']) await core.createNamespace({ body: { metadata: { name } } });
    const names = Array.from({ length: N }, (_, i) => `agent-${i}`);

    // Reference: the raw API-server rate for N status patches, same concurrency, same objects.
    await pool(names, CONCURRENCY, (name) => crd.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'bench-raw', plural: 'confidentialagents', body: agentBody(name) }).then(() => undefined));
    const rawStart = performance.now();
    await pool(names, CONCURRENCY, async (name) => {
      await crd.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace: 'bench-raw', plural: 'confidentialagents', name, body: { status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'False', reason: 'Bench', message: 'raw', lastTransitionTime: new Date().toISOString() }] } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    });
    const rawPatchesPerSec = N / ((performance.now() - rawStart) / 1000);

    await crd.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'bench', plural: 'attestationpolicies', body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name: 'bench' }, spec: { allowSampleTee: true, minimumStatus: 'warning', reattestIntervalSeconds: 86400 } } });
    const httpPort = await freePort();
    operator = spawnOperator(cp.kubeconfigPath, ['--namespace', 'bench', '--local-cloud-url', cloud.url, '--http-port', String(httpPort), '--workers', String(workers), '--log-level', 'warn', '--gc-interval', '3600']);
    const pid = operator.proc.pid ?? 0;
    await waitMetrics(httpPort);
    const seriesBefore = seriesCount(await scrapeText(httpPort));
    const baseline = procStat(pid);
    const others = { 'kube-apiserver': cp.pids().apiServer ?? 0, etcd: cp.pids().etcd ?? 0, 'bench (local cloud + 1,000 guests)': process.pid };
    const othersBefore = Object.fromEntries(Object.entries(others).map(([k, p]) => [k, procStat(p).cpuTicks]));

    const writesBefore = await apiServerWrites(kc);
    const requestsBefore = await apiServerRequestCounts(kc);
    const start = performance.now();
    await pool(names, CONCURRENCY, (name) => crd.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'bench', plural: 'confidentialagents', body: agentBody(name) }).then(() => undefined));
    const createdMs = performance.now() - start;
    let provisionedMs = 0;
    let readyMs = 0;
    let listPolls = 0;
    for (;;) {
      listPolls++;
      const list = (await crd.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'bench', plural: 'confidentialagents' })) as { items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> };
      const count = (type: string) => list.items.filter((a) => a.status?.conditions?.some((c) => c.type === type && c.status === 'True')).length;
      if (!provisionedMs && count('Provisioned') === N) provisionedMs = performance.now() - start;
      const settledType = process.env.BENCH_SETTLE_ON ?? 'Ready';
      // Time limits scale with N (the defaults were set for 1,000 agents).
      const scale = Math.max(1, N / 1000);
      if (count(settledType) === N || (settledType === 'Ready' && provisionedMs && performance.now() - start > 180_000 * scale)) {
        readyMs = count('Ready') === N ? performance.now() - start : NaN;
        break;
      }
      if (performance.now() - start > 300_000 * scale) throw new Error(`timed out: ${count('Provisioned')}/${N} provisioned\n${operator.output().slice(-3000)}`);
      // Poll once a second: listing 1,000 objects more often would load the API server being measured.
      await new Promise((r) => setTimeout(r, 1000));
    }
    const settledMs = performance.now() - start;
    const operatorWrites = (await apiServerWrites(kc)) - writesBefore - N; // minus the N creates the bench made
    // Every request the API server served in the window (reads, lists, watches, leases too), minus the
    // bench's own: its N creates and its once-a-second LISTs of the agents.
    const requestsAfter = await apiServerRequestCounts(kc);
    let operatorRequests = -N - listPolls;
    for (const [k, v] of requestsAfter) if (!/^GET\s{2}/.test(k)) operatorRequests += v - (requestsBefore.get(k) ?? 0);
    const reconciles = await reconcileTotal(httpPort);
    const errors = await metricSum(httpPort, 'controller_runtime_reconcile_errors_total{');
    const reconcileSeconds = await metricSum(httpPort, 'controller_runtime_reconcile_time_seconds_sum{');
    const series = seriesStats(await scrapeText(httpPort), names);
    const busy = procStat(pid);
    const othersCpu = Object.entries(others).map(([k, p]) => [k, ((procStat(p).cpuTicks - (othersBefore[k] ?? 0)) / 100 / (settledMs / 1000)) * 100] as const);
    await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
    const idle = procStat(pid);
    const ticksPerSec = 100;
    const idleCpuPct = ((idle.cpuTicks - busy.cpuTicks) / ticksPerSec / (IDLE_WINDOW_MS / 1000)) * 100;
    const reconcilesPerSec = reconciles / (settledMs / 1000);
    const busyCpuPct = ((busy.cpuTicks - baseline.cpuTicks) / 100 / (settledMs / 1000)) * 100;

    const rows: Array<[string, string, string]> = [
      ['agents', String(N), ''],
      ['created (client side)', `${(createdMs / 1000).toFixed(1)} s`, ''],
      ['all Provisioned', `${(provisionedMs / 1000).toFixed(1)} s`, 'target < 60 s'],
      ['all Ready (attested + released)', Number.isNaN(readyMs) ? 'not reached' : `${(readyMs / 1000).toFixed(1)} s`, ''],
      ['reconciles', String(reconciles), `${errors} returned errors (retried with backoff)`],
      ['mean reconcile duration', `${((reconcileSeconds / reconciles) * 1000).toFixed(0)} ms`, 'time inside reconcile (API round trips, attestation)'],
      ['reconciles/s', reconcilesPerSec.toFixed(0), `target >= ${(rawPatchesPerSec / 2).toFixed(0)} (half the raw rate)`],
      ['operator API writes/s', (operatorWrites / (settledMs / 1000)).toFixed(0), `${(operatorWrites / N).toFixed(1)} writes per agent (finalizer, status, Events), from apiserver_request_total`],
      ['operator API requests per agent', (operatorRequests / N).toFixed(1), `${operatorRequests} requests of every verb (reads, watches, leases) from apiserver_request_total, creation to settled`],
      ['raw status patches/s (reference)', rawPatchesPerSec.toFixed(0), `${N} merge patches on /status, concurrency ${CONCURRENCY}`],
      ['operator CPU while reconciling', `${busyCpuPct.toFixed(0)} %`, 'of one core, creation to settled'],
      ...othersCpu.map(([k, pct]) => [`${k} CPU`, `${pct.toFixed(0)} %`, 'same window'] as [string, string, string]),
      ['operator RSS before any agent', `${(baseline.rssKiB / 1024).toFixed(0)} MiB`, ''],
      ['operator peak RSS', `${(idle.peakRssKiB / 1024).toFixed(0)} MiB`, 'target < 200 MiB'],
      ['/metrics series', String(series.total), `${seriesBefore} before any agent; ${series.domain} under confidential_agent_`],
      ['series per agent', String(series.perAgent.max), series.perAgent.min === series.perAgent.max ? `every agent exactly ${series.perAgent.max} (its conditions, EAR status, next re-attestation)` : `min ${series.perAgent.min}`],
      ['series independent of agents', String(series.total - series.perAgentTotal), `total = ${series.total - series.perAgentTotal} + ${series.perAgent.max} x agents: linear`],
      ['RSS per agent', `${(((idle.peakRssKiB - baseline.rssKiB) * 1024) / N / 1024).toFixed(1)} KiB`, '(peak RSS − RSS before any agent) / agents'],
      ['operator idle CPU', `${idleCpuPct.toFixed(2)} %`, `over ${IDLE_WINDOW_MS / 1000} s once settled; target < 1 %`],
    ];
    console.log('\nbench:reconcile');
    for (const [k, v, note] of rows) console.log(`  ${k.padEnd(34)} ${v.padStart(12)}  ${note}`);
    printComparison(N, workers, comparison); // again, next to the full-operator figures
  } finally {
    await operator?.kill('SIGTERM');
    await cloud.close();
    await cp.stop();
  }
}

async function waitMetrics(port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('operator did not become ready');
}

/** Mutating requests the API server has served so far (its own apiserver_request_total counter). */
async function apiServerWrites(kc: KubeConfig): Promise<number> {
  let sum = 0;
  for (const [key, n] of await apiServerRequestCounts(kc)) if (/^(POST|PATCH|PUT|DELETE) /.test(key)) sum += n;
  return sum;
}

async function scrapeText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

const sampleLines = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
const seriesCount = (text: string) => sampleLines(text).length;

/** Series on /metrics: total, the domain ones, and how many carry each agent's name (kube-state-metrics style). */
function seriesStats(text: string, agents: string[]): { total: number; domain: number; perAgent: { min: number; max: number }; perAgentTotal: number } {
  const lines = sampleLines(text);
  const byAgent = new Map(agents.map((a) => [a, 0]));
  for (const l of lines) {
    const name = /[{,]name="(agent-\d+)"/.exec(l)?.[1];
    if (name && byAgent.has(name) && /namespace="bench"/.test(l)) byAgent.set(name, byAgent.get(name)! + 1);
  }
  const counts = [...byAgent.values()];
  return {
    total: lines.length,
    domain: lines.filter((l) => l.startsWith('confidential_agent_')).length,
    perAgent: { min: Math.min(...counts), max: Math.max(...counts) },
    perAgentTotal: counts.reduce((a, b) => a + b, 0),
  };
}

async function metricSum(port: number, prefix: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(prefix) && l.includes('controller="confidentialagent"'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

const reconcileTotal = (port: number) => metricSum(port, 'controller_runtime_reconcile_total{');

await main();
