// npm run soak -- [--duration 10m] [--agents 300] [--converge 180s] [--ecs-rps 10] [--kbs true|false]
// The chaos soak (operator/test/support/soak/soak.ts): real kube-apiserver + etcd, two operator replicas
// with leader election, the local cloud's simulated guests and the ECS simulator behind the real SDK,
// an overlapping fault schedule, invariants checked continuously. Prints the invariant figures; on a
// failed invariant prints the agent and the fault timeline around it and exits 1.
import { parseArgs } from 'node:util';
import { runSoak, timelineAround } from '../test/support/soak/soak.ts';

function duration(raw: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw);
  if (!m) throw new Error(`${flag} must look like 90s, 10m or 1h, got '${raw}'`);
  const n = Number(m[1]);
  return Math.round(n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000));
}

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '10m' }, agents: { type: 'string', default: '300' }, converge: { type: 'string', default: '180s' }, 'ecs-rps': { type: 'string', default: '10' }, 'rss-bound': { type: 'string', default: '400' }, 'lag-bound': { type: 'string', default: '500' }, kbs: { type: 'string', default: 'true' } },
});
const agents = Number(values.agents);
if (!Number.isInteger(agents) || agents < 20) throw new Error(`--agents must be an integer >= 20 (every agent kind present), got '${values.agents}'`);
const report = await runSoak({
  durationMs: duration(values.duration, '--duration'),
  agents,
  convergeBoundMs: duration(values.converge, '--converge'),
  ecsRps: Number(values['ecs-rps']),
  rssBoundMiB: Number(values['rss-bound']),
  lagBoundMs: Number(values['lag-bound']),
  kbs: values.kbs !== 'false',
});
console.log('\nsoak');
for (const [k, v] of report.figures) console.log(`  ${k.padEnd(44)} ${v}`);
if (!report.ok) {
  console.log('\nFAILED invariants:');
  for (const v of report.violations) {
    console.log(`- ${v.invariant} — agent ${v.agent} at ${((v.at - report.startedAt) / 1000).toFixed(1)}s: ${v.detail}`);
    console.log('  faults within ±30 s:');
    for (const l of timelineAround(report.timeline, v.at, 30_000, report.startedAt)) console.log(l);
  }
  process.exit(1);
}
console.log('\nall invariants held');
