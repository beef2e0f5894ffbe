// The operator's KBS (pull delivery). The KBS 0.4.0 server and its verification run in a worker thread
// (app/kbs-worker.ts), or inline for `cai kbs` (its own process): either way not on the event loop of the
// reconcilers and leader election. This side owns the informers: it sends the worker compact snapshots of
// the release inputs and the sealing keyring when they change, and turns the worker's events back into
// the per-agent record of what was released, logs, and Events on the agent a refused requester claimed to be.
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { SealedCredential } from '../api/sealed-credential.ts';
import type { EarSigner, EcPublicJwk } from '../attestation/policy/ear.ts';
import type { KbsDeliveries } from '../controllers/agent/release.ts';
import { normalizeAddress } from '../release/kbs/decide-release.ts';
import { generateKbsTls } from '../release/kbs/tls.ts';
import type { KbsEvent } from '../release/kbs/types.ts';
import { serializeKeyring, type SealingKeyring } from '../release/sealing/keyring.ts';
import type { EventRecorder, SharedInformer } from '../runtime/manager.ts';
import type { KbsTlsConfig } from './config.ts';
import { readReceipts, type Receipt, type ReceiptWriter } from './kbs-receipts.ts';
import type { EgressLists, TrustAnchors } from './verifiers.ts';
import { startKbsRuntime, type KbsRuntime, type KbsTlsMode } from './kbs-runtime.ts';
import { instanceHost, kbsSnapshot } from './kbs-snapshot.ts';
import type { FromWorker, KbsWorkerInit, ToWorker } from './kbs-worker.ts';
import { FORWARDED, replayMetrics, type MetricsRecorder } from '../metrics/forward.ts';
import type { SerializedSessionKeys } from './kbs-session-keys.ts';

export interface KbsService {
  server: { close(): Promise<void> };
  url: string;
  deliveries: KbsDeliveries;
  /** PEM guests trust the KBS with (the bootstrap push's kbs_cert); undefined over plain HTTP. */
  guestTrust(): string | undefined;
  /** Calls listener with the agent key (`namespace/name`) after each release (the release phase records it in status). */
  onRelease(listener: (agentKey: string) => void): void;
}

interface ConfigMapLike {
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
}

export interface KbsServiceDeps {
  agents: SharedInformer<ConfidentialAgent>;
  policies: SharedInformer<AttestationPolicy>;
  credentials: SharedInformer<SealedCredential>;
  /** Operator-namespace ConfigMaps (offline GPU RIMs). */
  configMaps?: SharedInformer<ConfigMapLike>;
  keyring: () => SealingKeyring;
  /** Writes delivery receipts on the agents (app/kbs-receipts.ts); absent: releases are known to this process only. */
  receipts?: ReceiptWriter;
  /** Session-cookie keys shared with the other replicas (app/kbs-session-keys.ts); default: the KBS's own. */
  sessionKeys?: () => SerializedSessionKeys;
  signer: EarSigner;
  host: string;
  port: number;
  publicUrl?: string;
  /** Default: a generated development certificate for the public URL's host. */
  tls?: KbsTlsMode;
  nvidiaRimDir?: string;
  /** Tests only: private-PKI roots for the KBS's verifiers (see app/verifiers.ts TrustAnchors). */
  trustAnchors?: TrustAnchors;
  /** The operator's PCCS / Rekor allow-lists for the KBS's verifiers. */
  egress?: EgressLists;
  logger: Logger;
  /** Events on the agent a refused requester claimed to be (the wire reply is generic). */
  events?: EventRecorder;
  /** 'worker' (default, inside the operator) or 'inline' (`cai kbs`, already its own process). */
  isolation?: 'worker' | 'inline';
  /** How long changes are batched before a snapshot is sent (default 50 ms). */
  snapshotDebounceMs?: number;
  /**
   * The longest the KBS decides on a policy view no watch confirms (default 60 s). Past it the KBS knows no
   * policy, so it attests and releases nothing, until the policies informer's watch is back: a replica cut
   * off from the API server must not keep serving under a policy that was revoked there (docs/trust-model.md).
   */
  maxPolicyStalenessMs?: number;
  /** Attestations, releases, requests, sessions and trust-material health of the KBS. */
  metrics?: MetricsRecorder;
}

type Released = Map<string, Receipt>;

const EVENT_INTERVAL_MS = 10_000;
// Sources run as .ts (type stripping), the image runs tsc's .js output: the worker file follows suit.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './kbs-worker.ts' : './kbs-worker.js', import.meta.url);

function defaultTls(host: string, publicUrl: string | undefined): KbsTlsMode {
  const hosts = ['127.0.0.1', 'localhost', '::1'];
  if (host !== '0.0.0.0' && host !== '::') hosts.push(host);
  if (publicUrl) {
    try {
      hosts.push(new URL(publicUrl).hostname.replace(/^\[|\]$/g, ''));
    } catch {
      // config.ts validates the URL; nothing to add
    }
  }
  return { mode: 'generated', hosts };
}

export async function startKbsService(deps: KbsServiceDeps): Promise<KbsService> {
  const log = deps.logger;
  const released = new Map<string, Released>();
  const listeners: Array<(agentKey: string) => void> = [];
  const maxStale = deps.maxPolicyStalenessMs ?? 60_000;
  let policiesWithheld = false;
  const snapshot = () =>
    kbsSnapshot({ agents: deps.agents.list(), policies: policiesWithheld ? [] : deps.policies.list(), credentials: deps.credentials.list(), ...(deps.configMaps ? { configMaps: deps.configMaps.list() } : {}) });

  const metrics = deps.metrics;
  const onEvent = (e: KbsEvent) => {
    if (metrics) {
      if (e.type === 'attested') metrics.attestation(e.tee, 'pass');
      else if (e.type === 'attestation-refused') metrics.attestation(e.tee ?? 'unknown', 'fail', e.code);
      else metrics.release('KBS', e.type === 'released' ? 'delivered' : 'refused');
    }
    if (e.type === 'released') {
      const byCredential: Released = released.get(e.agent) ?? new Map();
      const name = e.credential.split('/').pop() ?? e.credential;
      const receipt: Receipt = { resourcePath: e.resourcePath, at: new Date().toISOString(), digest: e.credentialDigest };
      byCredential.set(name, receipt);
      released.set(e.agent, byCredential);
      // Recorded on the agent too, so the leader sees releases this replica served (app/kbs-receipts.ts).
      deps.receipts?.record(e.agent, name, receipt);
      for (const l of listeners) l(e.agent);
      return;
    }
    if (e.type === 'attestation-refused' || e.type === 'release-refused') recordRefusal(e);
  };

  // The requester learns only a generic reason; the agent it claimed to be gets the detail as an Event,
  // at most one per agent and code every EVENT_INTERVAL_MS (a hostile requester must not turn refusals
  // into a stream of API writes; the logs keep every refusal).
  const lastEvent = new Map<string, number>();
  function recordRefusal(e: Extract<KbsEvent, { type: 'attestation-refused' | 'release-refused' }>): void {
    if (!deps.events) return;
    const claimed = new Set<string>();
    if (e.type === 'release-refused' && e.agent) claimed.add(e.agent);
    else {
      const at = normalizeAddress(e.peerAddress);
      for (const a of deps.agents.list()) if (a.spec.delivery.mode === 'KBS' && normalizeAddress(instanceHost(a)) === at) claimed.add(`${a.metadata.namespace ?? ''}/${a.metadata.name}`);
    }
    const detail = e.type === 'release-refused' ? `${e.code}: ${e.reason} (resource ${e.resourcePath}, requester ${e.peerAddress})` : `${e.code}: ${e.message} (requester ${e.peerAddress})`;
    const now = Date.now();
    if (lastEvent.size > 10_000) lastEvent.clear();
    for (const key of claimed) {
      const limitKey = `${key}|${e.code}`;
      if (now - (lastEvent.get(limitKey) ?? -Infinity) < EVENT_INTERVAL_MS) continue;
      lastEvent.set(limitKey, now);
      const [ns, name] = key.split('/') as [string, string];
      const agent = deps.agents.get(ns, name);
      if (agent) deps.events.emit(agent, 'Warning', e.type === 'release-refused' ? 'KbsReleaseRefused' : 'KbsAttestationRefused', e.type === 'release-refused' ? 'Release' : 'Attest', detail.slice(0, 1000));
    }
  }

  const tls = deps.tls ?? defaultTls(deps.host, deps.publicUrl);
  const init = { ...deps, tls: tls.mode === 'generated' ? ({ mode: 'material', ...(await generateKbsTls(tls.hosts)) } as const) : tls };
  const host = deps.isolation === 'inline' ? await inlineHost(init, snapshot, onEvent) : await workerHost(init, snapshot, onEvent);

  // Batch informer changes into one snapshot; once a second a beat also checks the keyring, the session keys
  // and how long the policy view has gone unconfirmed.
  let timer: NodeJS.Timeout | undefined;
  let lastKeyring = deps.keyring();
  let lastSessionKeys = deps.sessionKeys?.();
  const push = () => {
    timer = undefined;
    host.send({ type: 'snapshot', snapshot: snapshot() });
    const k = deps.keyring();
    if (k !== lastKeyring) {
      lastKeyring = k;
      host.send({ type: 'keyring', json: serializeKeyring(k) });
    }
    const sk = deps.sessionKeys?.();
    if (sk && sk !== lastSessionKeys) {
      lastSessionKeys = sk;
      host.send({ type: 'session-keys', keys: sk });
    }
  };
  const schedule = () => (timer ??= setTimeout(push, deps.snapshotDebounceMs ?? 50));
  for (const inf of [deps.agents, deps.policies, deps.credentials, ...(deps.configMaps ? [deps.configMaps] : [])] as Array<SharedInformer<unknown>>) {
    inf.on('add', schedule);
    inf.on('update', schedule);
    inf.on('delete', schedule);
  }
  const checkPolicyView = () => {
    const unconfirmedMs = deps.policies.unconfirmedForMs?.() ?? 0;
    if (unconfirmedMs > maxStale === policiesWithheld) return;
    policiesWithheld = !policiesWithheld;
    if (policiesWithheld) log.warn({ unconfirmedMs, maxPolicyStalenessMs: maxStale }, 'kbs: no watch has confirmed the AttestationPolicies for too long; attesting and releasing nothing until it is back');
    else log.info({}, 'kbs: the AttestationPolicies are confirmed by a watch again; serving');
    schedule();
  };
  const beat = setInterval(() => {
    checkPolicyView();
    if (deps.keyring() !== lastKeyring || deps.sessionKeys?.() !== lastSessionKeys) schedule();
  }, 1000);
  beat.unref();
  log.info({ url: host.url, tls: host.guestTrust() !== undefined, isolation: deps.isolation ?? 'worker' }, 'kbs listening');

  return {
    url: host.url,
    guestTrust: host.guestTrust,
    server: {
      async close() {
        clearInterval(beat);
        if (timer) clearTimeout(timer);
        await host.close();
      },
    },
    deliveries: {
      publicUrl: host.url,
      kbsCert: host.guestTrust,
      delivered: (agentKey) => deliveredTo(agentKey, released.get(agentKey), deps.agents, [deps.signer.publicJwk]),
      forget: (agentKey) => released.delete(agentKey),
    },
    onRelease: (listener) => void listeners.push(listener),
  };
}

interface Host {
  url: string;
  guestTrust(): string | undefined;
  send(m: Exclude<ToWorker, { type: 'close' }>): void;
  close(): Promise<void>;
}

function initFor(deps: KbsServiceDeps, snapshot: () => ReturnType<typeof kbsSnapshot>): KbsWorkerInit {
  return {
    host: deps.host,
    port: deps.port,
    ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}),
    tls: deps.tls ?? defaultTls(deps.host, deps.publicUrl),
    signerPem: deps.signer.privateKeyPem(),
    keyringJson: serializeKeyring(deps.keyring()),
    ...(deps.sessionKeys ? { sessionKeys: deps.sessionKeys() } : {}),
    snapshot: snapshot(),
    ...(deps.nvidiaRimDir ? { nvidiaRimDir: deps.nvidiaRimDir } : {}),
    ...(deps.trustAnchors ? { trustAnchors: deps.trustAnchors } : {}),
    ...(deps.egress ? { egress: deps.egress } : {}),
  };
}

async function inlineHost(deps: KbsServiceDeps, snapshot: () => ReturnType<typeof kbsSnapshot>, onEvent: (e: KbsEvent) => void): Promise<Host> {
  const rt: KbsRuntime = await startKbsRuntime({
    ...initFor(deps, snapshot),
    log: (level, obj, msg) => deps.logger[level](obj, msg),
    onEvent,
    ...(deps.metrics ? { metrics: kbsHost(deps.metrics) } : {}),
  });
  return {
    url: rt.url,
    guestTrust: () => rt.guestTrust,
    send: (m) => (m.type === 'snapshot' ? rt.setSnapshot(m.snapshot) : m.type === 'keyring' ? rt.setKeyring(m.json) : rt.setSessionKeys(m.keys)),
    close: () => rt.close(),
  };
}

/** The KBS's collateral cache is its own: its PCCS health goes under host="kbs". */
function kbsHost(metrics: MetricsRecorder): MetricsRecorder {
  // Delegates (DomainMetrics keeps private fields, so no prototype tricks), with the host fixed for the two.
  const delegate = Object.fromEntries(FORWARDED.map((m) => [m, (...args: unknown[]) => (metrics[m] as (...a: unknown[]) => void).apply(metrics, args)])) as unknown as MetricsRecorder;
  return { ...delegate, pccsFetched: (at: Date) => metrics.pccsFetched(at, 'kbs'), servingStale: (stale: boolean) => metrics.servingStale(stale, 'kbs') };
}

/** Starts the worker and restarts it (after 1 s) if it dies; the listening port and URL stay the same. */
async function workerHost(deps: KbsServiceDeps, snapshot: () => ReturnType<typeof kbsSnapshot>, onEvent: (e: KbsEvent) => void): Promise<Host> {
  const log = deps.logger;
  let guestTrust: string | undefined;
  let closing = false;
  let worker: Worker;
  let fixedPort = deps.port;

  const start = () =>
    new Promise<{ url: string; port: number }>((resolve, reject) => {
      const w = new Worker(WORKER_URL, { workerData: { ...initFor(deps, snapshot), port: fixedPort, forwardMetrics: deps.metrics !== undefined } satisfies KbsWorkerInit });
      worker = w;
      let ready = false;
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          ready = true;
          guestTrust = m.guestTrust;
          resolve({ url: m.url, port: m.port });
        } else if (m.type === 'event') onEvent(m.event);
        else if (m.type === 'log') log[m.level](m.obj, m.msg);
        else if (m.type === 'certificate') guestTrust = m.guestTrust;
        else if (m.type === 'metrics') {
          if (deps.metrics) replayMetrics(kbsHost(deps.metrics), m.calls);
        }
        else if (m.type === 'failed') reject(new Error(`KBS failed to start: ${m.message}`));
      });
      w.on('error', (err) => {
        log.error({ err: err.message }, 'kbs worker crashed');
        if (!ready) reject(err);
      });
      w.on('exit', (code) => {
        if (closing || !ready) return;
        log.error({ code }, 'kbs worker exited; restarting in 1 s');
        setTimeout(() => void start().catch((err: unknown) => log.error({ err: String(err) }, 'kbs worker restart failed')), 1000).unref();
      });
    });

  const first = await start();
  fixedPort = first.port;
  return {
    url: first.url,
    guestTrust: () => guestTrust,
    send: (m) => worker.postMessage(m),
    async close() {
      closing = true;
      const w = worker;
      await new Promise<void>((resolve) => {
        const done = setTimeout(() => void w.terminate().then(() => resolve()), 5000);
        w.on('exit', () => {
          clearTimeout(done);
          resolve();
        });
        w.postMessage({ type: 'close' } satisfies ToWorker);
      });
    },
  };
}

/** The runtime TLS mode for the parsed flags (the generated CA covers the public URL's host). */
export function kbsTlsMode(tls: KbsTlsConfig, o: { kbsHost: string; kbsPublicUrl?: string | undefined }): KbsTlsMode {
  if (tls.mode === 'http') return { mode: 'http' };
  if (tls.mode === 'files') return { mode: 'files', certFile: tls.certFile, keyFile: tls.keyFile, ...(tls.caFile ? { caFile: tls.caFile } : {}), reloadIntervalMs: tls.reloadIntervalMs };
  return defaultTls(o.kbsHost, o.kbsPublicUrl);
}

/**
 * --kbs-embedded=false: the KBS runs as `cai kbs` elsewhere. Guests are sent to its public URL with the
 * configured CA; what it releases reaches the release phase through the receipts it writes on the agents.
 */
export async function externalKbs(
  config: { kbsPublicUrl?: string | undefined; kbsTls: KbsTlsConfig },
  receipts?: { agents: SharedInformer<ConfidentialAgent>; trusted: EcPublicJwk[] },
): Promise<KbsService> {
  const caFile = config.kbsTls.mode === 'http' ? undefined : config.kbsTls.caFile;
  const ca = caFile ? await readFile(caFile, 'utf8') : undefined;
  const url = config.kbsPublicUrl ?? '';
  return {
    url,
    guestTrust: () => ca,
    server: { close: () => Promise.resolve() },
    deliveries: { publicUrl: url, kbsCert: () => ca, delivered: (agentKey) => (receipts ? deliveredTo(agentKey, undefined, receipts.agents, receipts.trusted) : new Map()), forget: () => undefined },
    onRelease: () => undefined,
  };
}

/** This process's own record of releases to `agentKey`, merged with the signed receipts on the agent (the later wins). */
function deliveredTo(
  agentKey: string,
  own: ReadonlyMap<string, Receipt> | undefined,
  agents: SharedInformer<ConfidentialAgent>,
  trusted: EcPublicJwk[],
): Map<string, Receipt> {
  const [namespace, name] = agentKey.split('/') as [string, string];
  const out = readReceipts(agents.get(namespace, name), trusted);
  for (const [credential, r] of own ?? []) {
    const other = out.get(credential);
    if (!other || Date.parse(other.at) < Date.parse(r.at)) out.set(credential, r);
  }
  return out;
}
