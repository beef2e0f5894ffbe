// Trust-material faults for the chaos soak: hardware agents whose local guests present a real TDX quote + CC
// event log re-signed over each nonce by a test "Intel" PKI, under two policies shaped like the shipped
// production policy (gn8v-tee-production.yaml: UpToDate TCB only, event log required, the UKI digest from signed
// statements in a Rekor log), TDX only: the gpu block is dropped (8 re-signed GPU reports + RIM/OCSP per
// attestation would dominate the soak's CPU; hardware-release.test.ts covers them). Their PCCS and both Rekor
// logs are loopback servers in the soak process (they outlive operator kills), with faults:
// - PCCS outage: 503s or reset connections for a window;
// - collateral expiry: the PCCS serves collateral, re-signed by the test PKI, whose nextUpdate has passed;
// - Rekor fork: the log of one policy ("hw-fork") shows a tree inconsistent with the one it showed before
//   (same size with a rewritten leaf, or smaller), the other policy's log ("hw-steady") never forks.
// Fresh collateral is valid only briefly (collateralValidityMs) so the operator's cache really runs out inside
// an expiry window. The checks are in trust-invariants.ts.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { GROUP, VERSION } from '../../../src/api/common.ts';
import { DEFAULT_ALLOWED_PCCS_URLS, DEFAULT_ALLOWED_REKOR_URLS } from '../../../src/app/config.ts';
import type { ConfidentialAgent } from '../../../src/api/confidential-agent.ts';
import type { AttestationPolicy } from '../../../src/api/attestation-policy.ts';
import { loadSigningKey, parseTrustedRoot, publishReferenceValues, RekorClient, type SigningKey } from '../../../src/attestation/refvalues/index.ts';
import { parseCcel } from '../../../src/attestation/tdx/ccel.ts';
import { bootApplicationDigests, replayCcel } from '../../../src/attestation/tdx/replay.ts';
import { localGuests, type LocalGuests } from '../../../src/sim/local/guest-launcher.ts';
import type { SimulatedGuest } from '../../../src/sim/guest/guest.ts';
import { CCEL_FIXTURES, TDX_FIXTURES } from '../../fixtures/tdx/fixtures.ts';
import { tdxResigner, type TdxResigner } from '../../fixtures/tdx/test-pki.ts';
import { resignedTdxEvidence } from '../hardware-evidence.ts';
import { startSoakPccs, type SoakPccs } from './trust-pccs.ts';
import { TestRekorServer } from '../rekor-log/server.ts';
import type { RekorLogState } from '../rekor-log/log-state.ts';
import type { Violation } from './invariants.ts';
import {
  attestedUnderFork,
  dishonestRefusals,
  forkedCheckpoints,
  forkRefusals,
  outageRefusals,
  passesOnExpiredCollateral,
  releasesUnderFork,
  type AgentSnapshot,
  type FaultWindow,
  type ObservedCheckpoint,
  type ObservedPass,
  type ObservedRefusal,
  type OutageRecord,
  type PolicySnapshot,
} from './trust-invariants.ts';

const DAY = 86_400_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
const PRODUCTION_POLICY_FILE = join(import.meta.dirname, '..', '..', '..', '..', 'policies', 'attestation', 'gn8v-tee-production.yaml');
const ccelDir = join(CCEL_FIXTURES, 'gcp-cos113-go-tdx-guest');
const collateralDir = join(TDX_FIXTURES, 'v4-00806f050000', 'collateral-2025-06');
export const HW_POLICIES = ['hw-fork', 'hw-steady'] as const;
const LABEL = 'soak.confidential-agent.io/kind';

/** What the soak engine lends the trust faults. */
export interface TrustContext {
  fault(name: string, detail?: string): void;
  violate(v: Violation[]): void;
  leader(): Promise<{ name: string; httpPort: number } | undefined>;
  /** Leader kills injected so far (a change means the leader changed). */
  leaderKills(): number;
  crd: CustomObjectsApi;
  ns: string;
  apiRetry<T>(what: string, fn: () => Promise<T>): Promise<T | undefined>;
  /** True while a fault of this length still fits before the faults stop. */
  fits(ms: number): boolean;
  log(line: string): void;
}

export interface TrustFaultsOptions {
  /** Length of the fault phase: sets the windows (short soak: 30 s collateral validity, else 60 s). */
  durationMs: number;
}

/** Leader metrics that tell whether its collateral cache is warm, and what it appraised. */
interface LeaderMetrics {
  pccsLastSuccessMs: number;
  collateralNextUpdateMs: number;
  tdxPass: number;
  tdxCollateralFail: number;
  servingStale: number;
}

export async function startTrustFaults(o: TrustFaultsOptions) {
  const short = o.durationMs <= 90_000;
  const validityMs = short ? 15_000 : 60_000;
  const outageMs = short ? 8000 : 20_000;
  const expiryWindowMs = validityMs + (short ? 8000 : 10_000);
  const now0 = Date.now();
  const upToDate = (levels: unknown) => {
    for (const l of levels as Array<Record<string, unknown>>) {
      l.tcbStatus = 'UpToDate';
      delete l.advisoryIDs;
    }
  };
  const tdx: TdxResigner = await tdxResigner({
    quote: new Uint8Array(readFileSync(join(ccelDir, 'quote.bin'))),
    collateralDir,
    validFrom: new Date(now0 - DAY),
    validTo: new Date(now0 + 365 * DAY),
    editTcbInfo: (t) => {
      upToDate(t.tcbLevels);
      for (const m of (t.tdxModuleIdentities as Array<Record<string, unknown>> | undefined) ?? []) upToDate(m.tcbLevels);
    },
    editQeIdentity: (q) => upToDate(q.tcbLevels),
  });
  const ccelBytes = readFileSync(join(ccelDir, 'ccel_data.bin'));
  const ccel = ccelBytes.toString('base64');
  const ukiSha384 = bootApplicationDigests(replayCcel(parseCcel(new Uint8Array(ccelBytes))))[0]!;
  const anchorsFile = join(mkdtempSync(join(tmpdir(), 'cai-soak-anchors-')), 'anchors.json');
  writeFileSync(anchorsFile, JSON.stringify({ intelRootCaPem: tdx.rootPem }));

  const pccs: SoakPccs = await startSoakPccs(tdx, validityMs);
  const pccsOrigin = pccs.origin;
  // --- two Rekor logs carrying the UKI digest, signed by the image builder's key ---
  const builderKey: SigningKey = loadSigningKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const prod = parse(readFileSync(PRODUCTION_POLICY_FILE, 'utf8')) as { spec: { tdx: { referenceValues: { rekor: { artifactId: string; allowedVersions: string[] } } } } };
  const artifact = prod.spec.tdx.referenceValues.rekor;
  const logs = new Map<string, { server: TestRekorServer; genuine: RekorLogState; fillers: number }>();
  const publish = async (server: TestRekorServer, sha384: string, artifactId: string, version: string) =>
    publishReferenceValues({ sha384, artifactId, artifactVersion: version, signingKey: builderKey, client: new RekorClient({ url: server.url, retries: 0 }), trust: parseTrustedRoot(server.trustedRootJson()), at: new Date() });
  for (const policy of HW_POLICIES) {
    const server = new TestRekorServer();
    await server.start();
    await publish(server, ukiSha384, artifact.artifactId, artifact.allowedVersions[0]!);
    // Other artifacts' entries, so a fork can rewrite history without touching the reference value.
    for (let i = 0; i < 4; i++) await publish(server, '5a'.repeat(48), `soak-filler-${i}`, '1');
    logs.set(policy, { server, genuine: server.log, fillers: 4 });
  }
  const forkLog = logs.get('hw-fork')!;

  // --- hardware guests and agents ---
  let quotes = 0;
  const guests: LocalGuests = localGuests('127.0.0.1', {
    attester: {
      tee: 'tdx',
      primary: (reportData) => {
        quotes++;
        return resignedTdxEvidence(tdx, ccel, reportData);
      },
    },
  });
  const policyOf = new Map<string, (typeof HW_POLICIES)[number]>();

  // --- what the monitor sees ---
  const windows: FaultWindow[] = [];
  const passes: ObservedPass[] = [];
  const refusals: ObservedRefusal[] = [];
  const checkpoints: ObservedCheckpoint[] = [];
  const outages: OutageRecord[] = [];
  const forkIntervals: Array<{ from: number; to: number }> = [];
  const forkDetectMs: number[] = [];
  const forkRefuseMs: number[] = [];
  const seenPass = new Set<string>();
  const seenRefusal = new Set<string>();
  const seenCheckpoint = new Set<string>();
  let forkSeenFrom: number | undefined;
  let forkSeenTo = 0;
  let lastAgents: AgentSnapshot[] = [];
  const lastState = new Map<string, string>();
  let lastPolicies = new Map<string, PolicySnapshot>();
  let bumpSeq = 0;
  const counts = { outages: 0, warmOutages: 0, outagePasses: 0, outageCollateralFailures: 0, staleServed: 0, expiries: 0, forks: 0, forksDetected: 0, growth: 0 };

  const policySnapshot = (p: AttestationPolicy | undefined, name: string): PolicySnapshot => {
    const c = p?.status?.conditions?.find((x) => x.type === 'ReferenceValuesResolved');
    return { name, ...(c ? { resolved: { status: c.status, reason: c.reason, ...(c.lastTransitionTime ? { lastTransitionTime: c.lastTransitionTime } : {}) } } : {}), hasValues: (p?.status?.referenceValues?.length ?? 0) > 0 };
  };

  const readLeaderMetrics = async (port: number): Promise<LeaderMetrics | undefined> => {
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
      const values = (re: RegExp) => [...text.matchAll(re)].map((m) => Number(m[1]));
      const sum = (re: RegExp) => values(re).reduce((a, b) => a + b, 0);
      const nexts = values(/^confidential_agent_tdx_collateral_next_update_timestamp_seconds\{[^}]*\} (\S+)$/gm);
      return {
        pccsLastSuccessMs: 1000 * (values(/^confidential_agent_pccs_last_success_timestamp_seconds\{[^}]*host="operator"[^}]*\} (\S+)$/gm)[0] ?? 0),
        collateralNextUpdateMs: nexts.length > 0 ? 1000 * Math.min(...nexts) : 0,
        tdxPass: sum(/^confidential_agent_attestations_total\{(?=[^}]*tee="tdx")(?=[^}]*result="pass")[^}]*\} (\S+)$/gm),
        tdxCollateralFail: sum(/^confidential_agent_attestation_failures_total\{(?=[^}]*tee="tdx")(?=[^}]*reason="(?:CollateralUnavailable|TcbInfoExpired|QeIdentityExpired|CrlExpired)")[^}]*\} (\S+)$/gm),
        servingStale: values(/^confidential_agent_tdx_collateral_serving_stale\{[^}]*host="operator"[^}]*\} (\S+)$/gm)[0] ?? 0,
      };
    } catch {
      return undefined;
    }
  };

  return {
    /** Arguments every replica needs: the loopback PCCS and logs on the egress allow-lists. */
    operatorArgs: [
      ...['--allowed-pccs-urls', [...DEFAULT_ALLOWED_PCCS_URLS, `${pccsOrigin}/`].join(',')],
      ...['--allowed-rekor-urls', [...DEFAULT_ALLOWED_REKOR_URLS, ...HW_POLICIES.map((p) => logs.get(p)!.server.url)].join(',')],
    ],
    /** Replicas start through anchored-operator.ts with the test PKI's Intel root. */
    spawn: { entry: join(import.meta.dirname, 'anchored-operator.ts'), env: { CAI_TEST_TRUST_ANCHORS: anchorsFile } },

    /** Names the soak's hardware agents (alternating between the two policies). */
    register(names: string[]): void {
      for (const n of names) policyOf.set(n, HW_POLICIES[policyOf.size % 2]!);
    },
    isHardware: (agent: string) => policyOf.has(agent),
    policyFor: (agent: string) => policyOf.get(agent),
    labels: (agent: string): Record<string, string> | undefined => (policyOf.has(agent) ? { [LABEL]: 'hardware' } : undefined),
    launcher: (agent: string) => (policyOf.has(agent) ? guests.launch : undefined),
    guest: (instanceId: string): SimulatedGuest | undefined => guests.guest(instanceId),

    /** Both policies: the production policy, TDX only, trust material pointed at the loopback services. */
    async createPolicies(crd: CustomObjectsApi, core: CoreV1Api, ns: string): Promise<void> {
      for (const name of HW_POLICIES) {
        const { server } = logs.get(name)!;
        const doc = parse(readFileSync(PRODUCTION_POLICY_FILE, 'utf8')) as { spec: Record<string, unknown> & { tdx: Record<string, unknown> & { referenceValues: { rekor: Record<string, unknown> } } } };
        const spec = doc.spec;
        delete spec.gpu;
        spec.reattestIntervalSeconds = 30;
        spec.tdx.pccsUrl = `${pccsOrigin}/tdx/certification/v4`;
        Object.assign(spec.tdx.referenceValues.rekor, { url: server.url, publicKey: builderKey.publicKeyPem, trustedRootRef: { name: `${name}-log-root`, key: 'trusted_root.json' }, refreshIntervalSeconds: 60 });
        await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `${name}-log-root` }, data: { 'trusted_root.json': server.trustedRootJson() } } });
        await crd.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'attestationpolicies', body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name }, spec } });
      }
    },

    /** The three fault loops, staggered; resolves when none fits before the faults stop. */
    async run(ctx: TrustContext): Promise<void> {
      // A spec change makes the policy reconciler re-read its log and every agent of it re-attest (PolicyChanged).
      const bump = async (policies: readonly string[]) => {
        for (const name of policies) {
          const value = 30 + (bumpSeq++ % 5);
          await ctx.apiRetry(`bump ${name}`, () => ctx.crd.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ctx.ns, plural: 'attestationpolicies', name, body: [{ op: 'replace', path: '/spec/reattestIntervalSeconds', value }] }));
        }
      };
      const window = (kind: FaultWindow['kind']) => {
        const w: FaultWindow = { kind, from: Date.now(), to: Infinity };
        windows.push(w);
        return w;
      };

      const outage = async () => {
        // Wait (bounded) for an attested hardware agent, so there is a collateral cache to keep attesting from.
        for (let i = 0; i < (short ? 10 : 20) && !lastAgents.some((a) => a.ready === 'True'); i++) await sleep(1000);
        let leader = await ctx.leader();
        for (let i = 0; i < 20 && !leader; i++) {
          await sleep(1000); // an election or API-server outage under way: measure the next leader
          leader = await ctx.leader();
        }
        if (!leader) return ctx.fault('pccs-outage-skipped', 'no leader to measure for 20 s');
        // Make the leader fetch right before the outage (agents re-attest), so its cache is warm and measurable.
        const before = (await readLeaderMetrics(leader.httpPort))?.pccsLastSuccessMs ?? 0;
        await bump(HW_POLICIES);
        for (let i = 0; i < 10 && ((await readLeaderMetrics(leader.httpPort))?.pccsLastSuccessMs ?? 0) <= before; i++) await sleep(500);
        const m0 = await readLeaderMetrics(leader.httpPort);
        const kills0 = ctx.leaderKills();
        const kind = counts.outages % 2 === 0 ? '503' : 'reset';
        const w = window('pccs-outage');
        pccs.setOutage(kind);
        counts.outages++;
        const warm = !!m0 && m0.pccsLastSuccessMs > 0 && m0.collateralNextUpdateMs > Date.now() + outageMs + 2000;
        ctx.fault('pccs-outage', `${outageMs / 1000} s of ${kind === '503' ? 'HTTP 503' : 'reset connections'}; leader ${leader.name} ${warm ? 'holds collateral valid until ' + iso(m0.collateralNextUpdateMs) : 'has no unexpired collateral (cold)'}`);
        await sleep(1000);
        await bump(HW_POLICIES); // re-attestations during the outage
        let stale = 0;
        const end = w.from + outageMs;
        while (Date.now() < end) {
          stale = Math.max(stale, (await readLeaderMetrics(leader.httpPort))?.servingStale ?? 0);
          await sleep(Math.min(2000, Math.max(0, end - Date.now())));
        }
        const m1 = await readLeaderMetrics(leader.httpPort);
        const stillLeader = (await ctx.leader())?.name === leader.name;
        pccs.setOutage(undefined);
        w.to = Date.now();
        ctx.fault('pccs-restored');
        const rec: OutageRecord = {
          at: w.from,
          leader: leader.name,
          warm,
          stable: !!m0 && !!m1 && stillLeader && ctx.leaderKills() === kills0,
          overlapped: windows.some((x) => x !== w && x.kind === 'collateral-expiry' && x.from < w.to && x.to > w.from),
          tdxPasses: m0 && m1 ? m1.tdxPass - m0.tdxPass : 0,
          collateralFailures: m0 && m1 ? m1.tdxCollateralFail - m0.tdxCollateralFail : 0,
        };
        outages.push(rec);
        if (rec.warm && rec.stable) counts.warmOutages++;
        counts.outagePasses += rec.tdxPasses;
        counts.outageCollateralFailures += rec.collateralFailures;
        if (stale > 0) counts.staleServed++;
        ctx.log(`  outage: warm ${String(rec.warm)} stable ${String(rec.stable)} tdx passes ${rec.tdxPasses} collateral failures ${rec.collateralFailures} served-stale ${stale}`);
        ctx.violate(outageRefusals([rec]));
      };

      const expiry = async () => {
        const kind = counts.expiries % 2 === 0 ? 'tcb' : 'crl';
        const w = window('collateral-expiry');
        pccs.setExpired(kind);
        counts.expiries++;
        ctx.fault('collateral-expiry', `${expiryWindowMs / 1000} s of ${kind === 'tcb' ? 'TCB Info + QE Identity' : 'PCK + root CA CRLs'} past nextUpdate (fresh collateral lives ${validityMs / 1000} s)`);
        // Once every cached copy has run out, make the agents re-attest: each must be refused with the code.
        await sleep(validityMs + 2000);
        await bump(HW_POLICIES);
        await sleep(Math.max(0, w.from + expiryWindowMs - Date.now()));
        pccs.setExpired(undefined);
        w.to = Date.now();
        ctx.fault('collateral-fresh');
        await bump(HW_POLICIES); // converge without waiting for the 30 s retry
      };

      const fork = async () => {
        const { server, genuine } = forkLog;
        // A policy that never verified a checkpoint has nothing to compare with (trust on first use): fork only after.
        for (let i = 0; i < 25 && !lastPolicies.get('hw-fork')?.hasValues; i++) await sleep(1000);
        if (!lastPolicies.get('hw-fork')?.hasValues) return ctx.fault('rekor-fork-skipped', 'hw-fork has no verified checkpoint yet');
        // Rewrite history the operator has verified: a leaf below its published checkpoint (or show a tree smaller
        // than it). A different view of leaves it has not seen yet is a split view no consistency proof reveals
        // (TOFU without witnesses, docs/reference-values.md): the operator would rightly accept it, then refuse the
        // genuine log when it returns (the 10-minute soak once forked the newest leaf that way).
        const verified = Math.max(0, ...checkpoints.filter((c) => c.policy === 'hw-fork').map((c) => c.treeSize));
        if (verified < 2) return ctx.fault('rekor-fork-skipped', 'hw-fork has no verified checkpoint of 2 or more entries yet');
        const smaller = counts.forks % 2 === 1 && verified >= 4;
        const size = genuine.entries.length;
        const forked = genuine.copy(smaller ? verified - 2 : size);
        forked.fork(smaller ? forked.entries.length - 1 : verified - 1, Buffer.from(JSON.stringify({ rewritten: `soak fork ${counts.forks}` })));
        // The agents that must be refused: those Ready on it now (others are still provisioning).
        const mustRefuse = new Set(lastAgents.filter((a) => a.policy === 'hw-fork' && a.ready === 'True').map((a) => a.name));
        const w = window('rekor-fork');
        server.log = forked;
        counts.forks++;
        ctx.fault('rekor-fork', `hw-fork's log shows ${smaller ? `a smaller tree (${forked.entries.length} of ${size})` : `a same-size tree (${size})`} with a rewritten leaf`);
        await bump(['hw-fork']);
        let detected: number | undefined;
        const detectBy = Date.now() + (short ? 20_000 : 75_000);
        while (Date.now() < detectBy) {
          const p = lastPolicies.get('hw-fork');
          if (p?.resolved?.status === 'False' && p.resolved.reason === 'LogInconsistent') {
            detected = Date.now();
            break;
          }
          await sleep(1000);
        }
        if (detected === undefined) {
          ctx.violate([{ invariant: 'fork-detected', agent: 'hw-fork', at: Date.now(), detail: `hw-fork not refused LogInconsistent ${((Date.now() - w.from) / 1000).toFixed(0)} s into the fork: ${JSON.stringify(lastPolicies.get('hw-fork')?.resolved ?? {})}` }]);
        } else {
          counts.forksDetected++;
          forkDetectMs.push(detected - w.from);
          // Every agent of the policy is refused. The agents wait in the work queue like any other: behind a
          // policy edit that re-attests hundreds of agents, or a leader that just died, that takes a while
          // (15 s in the short soak, 60 s in the long one; nothing may be appraised or released meanwhile,
          // which attestedUnderFork/releasesUnderFork check separately). The time is reported.
          let v: Violation[] = [];
          for (let i = 0; i < (short ? 15 : 60); i++) {
            await sleep(1000);
            v = forkRefusals(lastPolicies.get('hw-fork') ?? { name: 'hw-fork', hasValues: false }, lastAgents, mustRefuse, Date.now());
            if (v.length === 0) break;
          }
          if (v.length === 0) forkRefuseMs.push(Date.now() - detected);
          ctx.violate(v);
        }
        server.log = genuine;
        w.to = Date.now();
        ctx.fault('rekor-fork-healed', 'the genuine log again');
        await bump(['hw-fork']);
      };

      // The log grows while nobody forks it, so consistency proofs between sizes run too.
      let growing = true;
      const growth = (async () => {
        while (growing) {
          for (let i = 0; i < 15 && growing; i++) await sleep(1000);
          if (!growing || !ctx.fits(5000)) break;
          for (const [name, l] of logs) {
            if (l.server.log !== l.genuine) continue;
            try {
              await publish(l.server, '5b'.repeat(48), `soak-filler-${l.fillers++}`, '1');
              counts.growth++;
            } catch (err) {
              ctx.fault('rekor-growth-error', `${name}: ${String(err)}`);
            }
          }
        }
      })();

      // Every fault runs at least once, even when a loaded machine made the soak's setup eat into its window.
      const loop = async (startMs: number, everyMs: number, lengthMs: number, run: () => Promise<void>, name: string) => {
        await sleep(startMs);
        for (let first = true; first || ctx.fits(lengthMs); first = false) {
          try {
            await run();
          } catch (err) {
            ctx.fault(`${name}-error`, String(err));
          }
          const next = Date.now() + everyMs * (0.7 + Math.random() * 0.6);
          while (Date.now() < next && ctx.fits(lengthMs)) await sleep(1000);
        }
      };
      await Promise.all([
        // Short soak: the outage, then the expiry (so they do not overlap); the fork alongside.
        short
          ? loop(0, 60_000, outageMs + expiryWindowMs + 20_000, async () => (await outage(), await expiry()), 'pccs-outage')
          : loop(10_000, 50_000, outageMs + 6000, outage, 'pccs-outage'),
        ...(short ? [] : [loop(25_000, 90_000, expiryWindowMs, expiry, 'collateral-expiry')]),
        loop(short ? 8000 : 40_000, short ? 60_000 : 80_000, short ? 30_000 : 60_000, fork, 'rekor-fork'),
      ]);
      growing = false;
      await growth;
    },

    /** One look at the hardware agents and their policies (the soak calls it every 2 s). */
    async poll(ctx: TrustContext): Promise<void> {
      const now = Date.now();
      // Agents first, then policies: a policy snapshot is never older than the agents checked against it.
      const list = (await ctx.crd.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ctx.ns, plural: 'confidentialagents', labelSelector: `${LABEL}=hardware` }).catch(() => undefined)) as { items: ConfidentialAgent[] } | undefined;
      if (!list) return;
      const policies = new Map<string, PolicySnapshot>();
      for (const name of HW_POLICIES) {
        const p = (await ctx.crd.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ctx.ns, plural: 'attestationpolicies', name }).catch(() => undefined)) as AttestationPolicy | undefined;
        if (!p) return;
        policies.set(name, policySnapshot(p, name));
        const cp = p.status?.checkpoint;
        if (cp && !seenCheckpoint.has(`${name}|${cp.treeSize}|${cp.rootHash}`)) {
          seenCheckpoint.add(`${name}|${cp.treeSize}|${cp.rootHash}`);
          checkpoints.push({ policy: name, treeSize: cp.treeSize, rootHash: cp.rootHash, at: now });
        }
      }
      const agents: AgentSnapshot[] = list.items.map((a) => {
        const cond = (t: string) => a.status?.conditions?.find((c) => c.type === t);
        const attested = cond('Attested');
        return {
          name: a.metadata.name,
          policy: a.spec.attestationPolicyRef.name,
          ...(attested ? { attested: { status: attested.status, reason: attested.reason } } : {}),
          ...(cond('Ready') ? { ready: cond('Ready')?.status } : {}),
          ...(a.status?.attestation?.verifiedAt ? { verifiedAt: a.status.attestation.verifiedAt } : {}),
        };
      });
      for (const a of agents) {
        const state = `Attested=${a.attested?.status ?? '?'} ${a.attested?.reason ?? ''} Ready=${a.ready ?? '?'} verifiedAt=${a.verifiedAt ?? '-'}`;
        if (lastState.get(a.name) !== state) ctx.log(`hw ${a.name} (${a.policy}): ${state}`);
        lastState.set(a.name, state);
        if (a.attested?.status === 'True' && a.verifiedAt && !seenPass.has(`${a.name}|${a.verifiedAt}`)) {
          seenPass.add(`${a.name}|${a.verifiedAt}`);
          passes.push({ agent: a.name, at: Date.parse(a.verifiedAt) });
        }
        if (a.attested?.status === 'False') {
          const key = `${a.name}|${a.attested.reason}`;
          // A refusal counts once per episode: first seen, and again after the agent passed in between.
          if (!seenRefusal.has(key)) {
            seenRefusal.add(key);
            refusals.push({ agent: a.name, reason: a.attested.reason, at: now });
          }
        } else {
          for (const k of [...seenRefusal]) if (k.startsWith(`${a.name}|`)) seenRefusal.delete(k);
        }
      }
      const forkPolicy = policies.get('hw-fork')!;
      const v = attestedUnderFork(forkPolicy, agents, 5000, now);
      ctx.violate(v);
      if (forkPolicy.resolved?.status === 'False' && forkPolicy.resolved.reason === 'LogInconsistent') {
        forkSeenFrom ??= now;
        forkSeenTo = now;
      } else if (forkSeenFrom !== undefined) {
        forkIntervals.push({ from: forkSeenFrom, to: forkSeenTo });
        forkSeenFrom = undefined;
      }
      lastAgents = agents;
      lastPolicies = policies;
    },

    /** The end-of-run checks over everything recorded. */
    finalChecks(decrypts: Array<{ agent: string; at: number; resourcePath: string }>): Violation[] {
      if (forkSeenFrom !== undefined) forkIntervals.push({ from: forkSeenFrom, to: forkSeenTo });
      const genuineRoot = (policy: string, size: number) => {
        const g = logs.get(policy)?.genuine;
        return g && size <= g.tree.size ? g.tree.root(size).toString('base64') : undefined;
      };
      const forkAgents = new Set([...policyOf].filter(([, p]) => p === 'hw-fork').map(([a]) => a));
      return [
        ...passesOnExpiredCollateral(passes, pccs.served, 20_000),
        ...dishonestRefusals(refusals, windows, 20_000),
        ...forkedCheckpoints(checkpoints, genuineRoot),
        ...releasesUnderFork(decrypts, forkAgents, forkIntervals, 5000),
      ];
    },

    figures(): Array<[string, string]> {
      const byReason = new Map<string, number>();
      for (const r of refusals) byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
      const refusalText = [...byReason].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
      const inWindow = (kind: FaultWindow['kind'], at: number) => windows.some((w) => w.kind === kind && w.from <= at && at <= w.to);
      const expiredServed = pccs.served.filter((s) => s.nextUpdate < s.at).length;
      return [
        ['hardware agents (TDX, production-shaped policies)', `${policyOf.size} (hw-fork ${[...policyOf.values()].filter((p) => p === 'hw-fork').length}, hw-steady ${[...policyOf.values()].filter((p) => p === 'hw-steady').length}); ${quotes} quotes re-signed; ${passes.length} passing appraisals seen, ${passes.filter((p) => inWindow('pccs-outage', p.at)).length} during PCCS outages, ${passes.filter((p) => inWindow('collateral-expiry', p.at)).length} during expiry windows`],
        ['hardware refusals seen (reason, episodes)', refusalText],
        ['PCCS', `${pccs.requests().total} requests, ${pccs.requests().refusedInOutage} refused during outages; ${pccs.served.length} collateral parts served, ${expiredServed} of them expired; fresh collateral valid ${validityMs / 1000} s`],
        ['PCCS outages (warm+stable leader) / leader TDX passes / collateral refusals during them', `${counts.outages} (${counts.warmOutages}) / ${counts.outagePasses} / ${counts.outageCollateralFailures}; outages where the leader served cached collateral ${counts.staleServed}`],
        ['collateral-expiry windows / refusals with an expiry code', `${counts.expiries} / ${refusals.filter((r) => ['TcbInfoExpired', 'QeIdentityExpired', 'CrlExpired'].includes(r.reason)).length}`],
        ['Rekor forks of hw-fork / detected (LogInconsistent) / time to detect', `${counts.forks} / ${counts.forksDetected} / ${forkDetectMs.map((m) => `${(m / 1000).toFixed(1)} s`).join(', ') || '-'}; its agents refused ${forkRefuseMs.map((m) => `${(m / 1000).toFixed(0)} s`).join(', ') || '-'} after; checkpoints published ${checkpoints.length}, all genuine unless a violation says so; log growth ${counts.growth} entries`],
      ];
    },

    async close(): Promise<void> {
      await pccs.close();
      for (const { server } of logs.values()) await server.stop();
    },
  };
}

export type TrustFaults = Awaited<ReturnType<typeof startTrustFaults>>;
