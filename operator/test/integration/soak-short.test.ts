// The chaos soak, short: 50 s of overlapping faults (leader SIGKILL, kube-apiserver and etcd restarts, ECS
// throttling/5xx/lost RunInstances and DeleteInstance answers, policy edits, credential rotations,
// agents deleted while provisioning, guests rebooted under the same instance id with new TEE keys, lost
// local-cloud create/delete answers, a PCCS outage, expired collateral, a Rekor fork on one policy) over 40
// agents of every kind (challenge and KBS delivery, TDX hardware evidence, hostile guests towards the
// operator and towards the KBS, a refusing policy, an out-of-scope reference, ECS instances), two operator
// replicas as their own processes. Every invariant the full `npm run soak` checks must hold; the report is
// printed.
import { describe, expect, it } from 'vitest';
import { runSoak, timelineAround } from '../support/soak/soak.ts';

describe('chaos soak (short)', () => {
  it('40 agents, 50 s of overlapping faults: no duplicate or leaked instance, nothing released outside an attested scope, all converge', async () => {
    const lines: string[] = [];
    const report = await runSoak({ durationMs: 50_000, agents: 40, convergeBoundMs: 90_000, ecsRps: 10, rssBoundMiB: 400, lagBoundMs: 1000, log: (l) => lines.push(l) });
    const figures = report.figures.map(([k, v]) => `${k}: ${v}`).join('\n');
    console.log(`soak (short)\n${figures}`);
    const failures = report.violations.map((v) => [`${v.invariant} ${v.agent}: ${v.detail}`, ...timelineAround(report.timeline, v.at, 30_000, report.startedAt)].join('\n'));
    expect(failures, `${figures}\n${lines.slice(-40).join('\n')}`).toEqual([]);
    // The schedule really ran: the most dangerous faults were injected at least once.
    const injected = new Set(report.timeline.map((f) => f.fault));
    for (const f of ['leader-sigkill', 'apiserver-stop', 'etcd-stop', 'ecs-lost-responses', 'delete-while-provisioning', 'guest-reboot', 'local-lost-answers', 'credential-rotation']) expect(injected, f).toContain(f);
    // ... and took effect: guests rebooted, local answers really lost, hostile KBS guests refused by the
    // KBS, rotated values checked in the guests in both delivery modes, every decrypt's key checked.
    const c = report.counts;
    expect(c.guestReboots, figures).toBeGreaterThanOrEqual(1);
    expect(c.localAnswersLost, figures).toBeGreaterThanOrEqual(1);
    expect(c.localCreateAnswersLost, figures).toBeGreaterThanOrEqual(1);
    expect(c.kbsHostileRefused, figures).toBe(c.kbsHostileAgents);
    expect(c.kbsHostileAgents).toBeGreaterThanOrEqual(1);
    expect(c.rotatedChecked.Challenge, figures).toBeGreaterThanOrEqual(1);
    expect(c.rotatedChecked.KBS, figures).toBeGreaterThanOrEqual(1);
    expect(c.decryptsKeyChecked).toBeGreaterThan(0);
    // Trust-material faults on the hardware agents (trust-faults.ts): a PCCS outage, expired collateral, a forked log.
    for (const f of ['pccs-outage', 'collateral-expiry', 'rekor-fork']) expect(injected, f).toContain(f);
    expect(report.ok).toBe(true);
  }, 400_000);
});
