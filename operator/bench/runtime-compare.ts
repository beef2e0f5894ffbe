// The controller-runtime comparison of npm run bench:reconcile: the same N ConfidentialAgents, created
// before either operator starts, reconciled once by hack/cr-reference (Go, controller-runtime) and once
// by operator/bench/runtime-worker.ts (this project's runtime), one after the other against the same
// kube-apiserver + etcd, each in its own namespace. Per operator: objects/s from its first reconcile to
// the N-th object seen Ready on a watch, peak RSS (VmHWM), its own CPU and the API server's and etcd's
// CPU over the same window, and API requests the API server counted.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, EventsV1Api, Watch, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../src/api/common.ts';
import { OPERATOR_NODE_FLAGS } from '../src/app/node-flags.ts';
import { apiServerRequestCounts } from '../test/support/apiserver-metrics.ts';

const REPO = join(import.meta.dirname, '..', '..');
const TICKS_PER_SEC = 100;

export interface CompareResult {
  name: string;
  objectsPerSec: number;
  startToReadyMs: number;
  firstToReadyMs: number;
  peakRssKiB: number;
  cpuSec: number;
  apiServerCpuSec: number;
  etcdCpuSec: number;
  apiRequests: number;
  /** Requests to this operator's namespace's objects by "VERB resource code" (events and agents). */
  byVerb: Map<string, number>;
  events: number;
  /** Ran first in its round. */
  first?: boolean;
}

export function procStat(pid: number): { cpuTicks: number; peakRssKiB: number; rssKiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(/(\d+) kB/.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '')?.[1] ?? 0);
  return { cpuTicks, peakRssKiB: kib('VmHWM'), rssKiB: kib('VmRSS') };
}

/** Builds (or reuses) the controller-runtime reference; returns the binary's path. */
export function crReferenceBinary(): string {
  const out = execFileSync(join(REPO, 'hack', 'cr-reference', 'build.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop() ?? '';
}

function delta(after: Map<string, number>, before: Map<string, number>, filter: (key: string) => boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0 && filter(k)) out.set(k, d);
  }
  return out;
}

/** The operator's production V8 flags unless BENCH_TS_NODE_FLAGS (space-separated) overrides them for an experiment. */
function tsNodeFlags(): string[] {
  const raw = process.env.BENCH_TS_NODE_FLAGS;
  return raw === undefined ? [...OPERATOR_NODE_FLAGS] : raw.split(' ').filter(Boolean);
}

interface Target {
  name: string;
  namespace: string;
  spawn: () => ChildProcess;
}

/** One round: both operators on their own fresh namespaces of n agents each, one after the other. */
export type CompareRound = CompareResult[];

/**
 * `rounds` rounds, alternating which side goes first (the machine's other load drifts during a run, and
 * the second side meets an etcd holding the first one's writes); results per round, Go first.
 */
export async function compareRuntimes(opts: { kc: KubeConfig; kubeconfigPath: string; pids: { apiServer: number; etcd: number }; n: number; workers: number; rounds: number; cpuProfDir?: string }): Promise<CompareRound[]> {
  const { kc, n, workers } = opts;
  const crd = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const crBin = crReferenceBinary();
  const rounds: CompareRound[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const goNs = `cmp-go-${r}`;
    const tsNs = `cmp-ts-${r}`;
    const targets: Target[] = [
      { name: 'controller-runtime (Go)', namespace: goNs, spawn: () => spawn(crBin, ['--kubeconfig', opts.kubeconfigPath, '--namespace', goNs, '--workers', String(workers)], { stdio: ['ignore', 'pipe', 'pipe'] }) },
      {
        name: 'this runtime (TypeScript)',
        namespace: tsNs,
        spawn: () =>
          spawn(process.execPath, [...tsNodeFlags(), ...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []), join(import.meta.dirname, 'runtime-worker.ts'), '--kubeconfig', opts.kubeconfigPath, '--namespace', tsNs, '--workers', String(workers)], { stdio: ['ignore', 'pipe', 'pipe'] }),
      },
    ];
    // Same objects in both namespaces, created before either operator of this round runs.
    for (const t of targets) {
      await core.createNamespace({ body: { metadata: { name: t.namespace } } });
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < n) {
          const name = `agent-${next++}`;
          await crd.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: t.namespace, plural: 'confidentialagents', body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'ConfidentialAgent', metadata: { name }, spec: { instance: { local: { bootDelaySeconds: 0 } }, attestationPolicyRef: { name: 'bench' } } } });
        }
      }));
    }
    const tsFirst = (r % 2 === 1) !== (process.env.BENCH_ORDER === 'ts-first');
    const order = tsFirst ? [...targets].reverse() : targets;
    const byName = new Map<string, CompareResult>();
    for (const t of order) byName.set(t.name, { ...(await runOne(opts, t)), first: t === order[0] });
    rounds.push(targets.map((t) => byName.get(t.name) as CompareResult));
  }
  return rounds;
}

async function runOne(opts: { kc: KubeConfig; pids: { apiServer: number; etcd: number }; n: number }, t: Target): Promise<CompareResult> {
  const { kc, n } = opts;
  const crd = kc.makeApiClient(CustomObjectsApi);
  const list = (await crd.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: t.namespace, plural: 'confidentialagents' })) as { metadata: { resourceVersion: string } };
  const ready = new Set<string>();
  let allReadyAt = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const watch = await new Watch(kc).watch(
    `/apis/${GROUP}/${VERSION}/namespaces/${t.namespace}/confidentialagents`,
    { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: false },
    (_phase: string, obj: { metadata?: { name?: string; finalizers?: string[] }; status?: { conditions?: Array<{ type: string; status: string }> } }) => {
      const name = obj.metadata?.name ?? '';
      const isReady = obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && obj.metadata?.finalizers?.includes('confidential-agent.io/finalizer');
      if (isReady) ready.add(name);
      if (ready.size === n && !allReadyAt) {
        allReadyAt = Date.now();
        resolveDone();
      }
    },
    () => undefined,
  );
  const apiBefore = await apiServerRequestCounts(kc);
  const apiCpu0 = procStat(opts.pids.apiServer).cpuTicks;
  const etcdCpu0 = procStat(opts.pids.etcd).cpuTicks;
  const startedAt = Date.now();
  const proc = t.spawn();
  let out = '';
  let firstReconcileAt = 0;
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /FIRST_RECONCILE (\d+)/.exec(out);
    if (m && !firstReconcileAt) firstReconcileAt = Number(m[1]);
  });
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const timeout = setTimeout(() => resolveDone(), 300_000);
  await Promise.race([done, exited]);
  clearTimeout(timeout);
  if (!allReadyAt) {
    proc.kill('SIGKILL');
    watch.abort();
    throw new Error(`${t.name}: ${ready.size}/${n} Ready (exit ${String(proc.exitCode)})\n${out.slice(-3000)}`);
  }
  const apiCpu = (procStat(opts.pids.apiServer).cpuTicks - apiCpu0) / TICKS_PER_SEC;
  const etcdCpu = (procStat(opts.pids.etcd).cpuTicks - etcdCpu0) / TICKS_PER_SEC;
  const self = procStat(proc.pid ?? 0);
  watch.abort();
  // Events are written asynchronously by both recorders: wait (bounded) for all N before stopping.
  const events = kc.makeApiClient(EventsV1Api);
  let eventCount = 0;
  for (let i = 0; i < 60; i++) {
    eventCount = (await events.listNamespacedEvent({ namespace: t.namespace })).items.length;
    if (eventCount >= n) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  // Counted once the Events are in (both recorders write them asynchronously); the bench's own requests
  // (the /metrics reads, the Event lists) are not counted.
  const byVerb = delta(await apiServerRequestCounts(kc), apiBefore, (k) => !k.startsWith('GET  ') && !/^LIST events/.test(k));
  const apiRequests = [...byVerb.values()].reduce((a, b) => a + b, 0);
  proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  const firstToReadyMs = allReadyAt - firstReconcileAt;
  return {
    name: t.name,
    objectsPerSec: n / (firstToReadyMs / 1000),
    startToReadyMs: allReadyAt - startedAt,
    firstToReadyMs,
    peakRssKiB: self.peakRssKiB,
    cpuSec: self.cpuTicks / TICKS_PER_SEC,
    apiServerCpuSec: apiCpu,
    etcdCpuSec: etcdCpu,
    apiRequests,
    byVerb,
    events: eventCount,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export function printComparison(n: number, workers: number, rounds: CompareRound[]): void {
  if (rounds.length === 0) return;
  console.log(`\nbench:reconcile — runtime vs controller-runtime: ${n} agents per side per round, ${rounds.length} round(s) alternating who goes first, ${workers} workers, no client-side QPS limit on either, same API server, same run; TypeScript V8 flags: ${tsNodeFlags().join(' ') || 'none'}`);
  const ratios = rounds.map(([go, ts]) => (ts && go ? ts.objectsPerSec / go.objectsPerSec : NaN));
  for (const [i, [go, ts]] of rounds.entries()) {
    if (!go || !ts) continue;
    console.log(`  round ${i + 1} (${go.first ? 'Go' : 'TypeScript'} first): controller-runtime ${go.objectsPerSec.toFixed(0)} objects/s, TypeScript ${ts.objectsPerSec.toFixed(0)} objects/s, ratio ${(ratios[i] as number).toFixed(2)}×; kube-apiserver CPU ${go.apiServerCpuSec.toFixed(1)} s vs ${ts.apiServerCpuSec.toFixed(1)} s`);
  }
  const pick = (side: 0 | 1, f: (r: CompareResult) => number) => median(rounds.map((r) => f(r[side] as CompareResult)));
  const row = (k: string, f: (r: CompareResult) => number, fmt: (x: number) => string, note = '') => console.log(`  ${k.padEnd(38)} ${fmt(pick(0, f)).padStart(14)} ${fmt(pick(1, f)).padStart(14)}  ${note}`);
  console.log(`  ${'median over rounds'.padEnd(38)} ${'controller-rt'.padStart(14)} ${'TypeScript'.padStart(14)}`);
  row('objects/s (first reconcile→all Ready)', (r) => r.objectsPerSec, (x) => x.toFixed(0), `ratio TS/Go: median ${median(ratios).toFixed(2)}× (rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')}); target ≥ 1.0×`);
  row('process start → all Ready', (r) => r.startToReadyMs / 1000, (x) => `${x.toFixed(2)} s`, 'includes process start and cache sync');
  row('peak RSS (VmHWM)', (r) => r.peakRssKiB / 1024, (x) => `${x.toFixed(0)} MiB`);
  row('operator CPU', (r) => r.cpuSec, (x) => `${x.toFixed(2)} s`, 'whole process life until all Ready');
  row('operator CPU per object', (r) => (r.cpuSec * 1000) / n, (x) => `${x.toFixed(1)} ms`);
  row('kube-apiserver CPU', (r) => r.apiServerCpuSec, (x) => `${x.toFixed(2)} s`, 'process start → all Ready');
  row('etcd CPU', (r) => r.etcdCpuSec, (x) => `${x.toFixed(2)} s`, 'same window');
  row('API requests per object', (r) => r.apiRequests / n, (x) => x.toFixed(1), 'apiserver_request_total delta until Events are in, incl. list/watch');
  row('Events written', (r) => r.events, (x) => x.toFixed(0), `expected ${n}`);
  const last = rounds.at(-1) as CompareRound;
  const [go, ts] = last;
  if (!go || !ts) return;
  console.log('  requests by verb, last round:');
  const keys = [...new Set([...go.byVerb.keys(), ...ts.byVerb.keys()])].sort();
  for (const k of keys) console.log(`    ${k.padEnd(36)} ${String(go.byVerb.get(k) ?? 0).padStart(14)} ${String(ts.byVerb.get(k) ?? 0).padStart(14)}`);
}
