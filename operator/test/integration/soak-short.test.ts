// The chaos soak, short: 60 s of overlapping faults (leader SIGKILL, kube-apiserver and etcd restarts, ECS
// throttling/5xx/lost RunInstances and DeleteInstance answers, policy edits, credential rotations,
// agents deleted while provisioning, a PCCS outage, expired collateral, a Rekor fork on one policy) over 40 agents of every kind (challenge and KBS delivery, TDX hardware evidence, hostile
// guests, a refusing policy, an out-of-scope reference, ECS instances), two operator replicas as their
// own processes. Every invariant the full `npm run soak` checks must hold; the report is printed.
import { describe, expect, it } from 'vitest';
import { runSoak, timelineAround } from '../support/soak/soak.ts';

describe('chaos soak (short)', () => {
  it('40 agents, 60 s of overlapping faults: no duplicate or leaked instance, nothing released outside an attested scope, all converge', async () => {
    const lines: string[] = [];
    const report = await runSoak({ durationMs: 60_000, agents: 40, convergeBoundMs: 90_000, ecsRps: 10, rssBoundMiB: 400, lagBoundMs: 1000, log: (l) => lines.push(l) });
    const figures = report.figures.map(([k, v]) => `${k}: ${v}`).join('\n');
    console.log(`soak (short)\n${figures}`);
    const failures = report.violations.map((v) => [`${v.invariant} ${v.agent}: ${v.detail}`, ...timelineAround(report.timeline, v.at, 30_000, report.startedAt)].join('\n'));
    expect(failures, `${figures}\n${lines.slice(-40).join('\n')}`).toEqual([]);
    // The schedule really ran: the most dangerous faults were injected at least once.
    const injected = new Set(report.timeline.map((f) => f.fault));
    for (const f of ['leader-sigkill', 'apiserver-stop', 'etcd-stop', 'ecs-lost-responses', 'delete-while-provisioning']) expect(injected, f).toContain(f);
    // Trust-material faults on the hardware agents (trust-faults.ts): a PCCS outage, expired collateral, a forked log.
    for (const f of ['pccs-outage', 'collateral-expiry', 'rekor-fork']) expect(injected, f).toContain(f);
    expect(report.ok).toBe(true);
  }, 400_000);
});
