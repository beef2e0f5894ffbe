// Cloud fuzz (issue 15, item 3): the ECS simulator garbles responses — truncated, not JSON, empty, wrong
// types, self-contradictory, 503 after the action took effect — at random, on RunInstances,
// DescribeInstances and DeleteInstance, while agents run the controller's create/describe/delete loop
// through the real SDK. Every failure is a classified ProviderError, and no token ever gets a second
// instance (counted from the simulator's own records, deleted instances included).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/cloud/provider.ts';
import { MANGLE_MODES, startEcsSimulator, type EcsSimulator } from '../../src/sim/ecs/index.ts';
import { rng } from '../support/json-mutator.ts';
import { provider, request, sleep, useFakeCredentials } from './alibaba-helpers.ts';

const AGENTS = Number(process.env['CLOUD_FUZZ_AGENTS'] ?? 24);
const CYCLES = Number(process.env['CLOUD_FUZZ_CYCLES'] ?? 8);
const ACTIONS = ['RunInstances', 'DescribeInstances', 'DeleteInstance', 'DeleteInstances'];

let sim: EcsSimulator;
beforeAll(async () => {
  useFakeCredentials();
  sim = await startEcsSimulator({ timings: { pendingMs: 30, startingMs: 30, stoppingMs: 30 } });
});
afterAll(async () => sim?.close());

describe('alibaba provider facing garbled ECS responses', () => {
  it(`${AGENTS} agents through create → describe → delete while 1-3 responses per call are garbled: classified errors, never a second instance`, async () => {
    const r = rng(15);
    const p = provider(sim.endpoint, { requestsPerSecond: 200, retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 }, failureCacheMs: 0 });
    const outcomes = new Map<string, number>();
    const tally = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    const unclassified: string[] = [];
    const garble = () => {
      for (let n = Math.floor(r() * 3); n >= 0; n--) sim.faults.mangle(MANGLE_MODES[Math.floor(r() * MANGLE_MODES.length)]!, { action: ACTIONS[Math.floor(r() * ACTIONS.length)]! });
    };
    // The controller's loop around one provider call: requeue on Retryable, record anything else.
    const attempt = async <T,>(what: string, call: () => Promise<T>): Promise<T | undefined> => {
      garble();
      try {
        const v = await call();
        tally(`${what}: ok`);
        return v;
      } catch (err) {
        if (err instanceof ProviderError) tally(`${what}: ${err.kind}`);
        else unclassified.push(`${what}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`.slice(0, 300));
        await sleep(5);
        return undefined;
      }
    };
    const requests = Array.from({ length: AGENTS }, () => request('cluster-1'));
    const t0 = performance.now();
    const ids = await Promise.all(
      requests.map(async (req) => {
        let seen: string | undefined;
        // the controller re-reconciles many times (status writes, resyncs, restarts): each a create + describe
        for (let i = 0; i < CYCLES; i++) {
          const info = await attempt('create', () => p.create(req));
          if (!info) continue;
          seen ??= info.id;
          if (info.id !== seen) tally('create: reported another id than before');
          await attempt('describe', () => p.describe(info.id));
          await attempt('findByToken', () => p.findByToken(req.token, req.owner));
        }
        return seen;
      }),
    );
    // Faults stop: the loop settles, each token on exactly one instance, the one create now reports.
    sim.faults.clear();
    const settled = await Promise.all(requests.map((req) => p.create(req)));
    for (const [i, req] of requests.entries()) {
      const made = sim.instances({ includeDeleted: true }).filter((x) => x.clientToken === req.token);
      expect(made.map((x) => x.instanceId), `agent ${i}`).toEqual([settled[i]!.id]);
    }
    // and delete under garbling until each is confirmed gone
    await Promise.all(
      settled.map(async (info) => {
        for (let i = 0; i < 40; i++) {
          await attempt('delete', () => p.delete(info.id));
          const d = await attempt('describe-after-delete', () => p.describe(info.id));
          if (d === undefined && !sim.instances().some((x) => x.instanceId === info.id)) return;
          await sleep(20);
        }
      }),
    );
    sim.faults.clear();
    const left = sim.instances().filter((x) => requests.some((q) => q.token === x.clientToken));
    const mangled = new Map<string, number>();
    for (const rec of sim.requestLog) if (rec.mangled) mangled.set(`${rec.action}/${rec.mangled}`, (mangled.get(`${rec.action}/${rec.mangled}`) ?? 0) + 1);
    const garbled = [...mangled.values()].reduce((a, b) => a + b, 0);
    const phantom = ids.filter((id, i) => id !== undefined && id !== settled[i]!.id).length;
    console.log(
      `cloud fuzz: ${AGENTS} agents, ${sim.requestLog.length} ECS requests, ${garbled} garbled responses in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `instances per token ≤ 1 (${AGENTS}/${AGENTS}); left after delete ${left.length}; ids reported that were not the token's instance ${phantom}; unclassified errors ${unclassified.length}\n` +
        `  garbled: ${JSON.stringify(Object.fromEntries(mangled))}\n  outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    expect(unclassified).toEqual([]);
    // A contradictory RunInstances (naming an instance that does not exist) is not believed: create reports
    // the instance carrying the token, the same one every time.
    expect(phantom).toBe(0);
    expect(outcomes.get('create: reported another id than before')).toBeUndefined();
    expect(garbled).toBeGreaterThan(AGENTS * CYCLES);
    expect(left).toEqual([]);
    await p.close();
  }, 240_000);
});
