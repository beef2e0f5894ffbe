// The operator's attestation service (the Trustee restful AS that TNG gateways verify against). The server
// and its verification run in a worker thread (app/as-worker.ts) — or inline, for tests — never on the event
// loop of the reconcilers and leader election. This side owns the informers and the CA Secret: it sends the
// worker compact snapshots (policies, agents) and the CA state when they change, publishes the trust bundle
// gateways pin, and turns refusals for an agent-scoped policy id into (rate-limited) Events on that agent.
import { Worker } from 'node:worker_threads';
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import { anchorsPem, needsRotation, type AsCaState } from '../attestation/service/ca.ts';
import type { AsEvent } from '../attestation/service/handlers.ts';
import { parsePolicyId } from '../attestation/service/policy-id.ts';
import type { EventRecorder, SharedInformer } from '../runtime/manager.ts';
import type { DomainMetrics } from '../metrics/domain.ts';
import { AS_CA_SECRET, DEFAULT_AS_CA_POLICY, loadOrCreateAsCa, readAsCa, type AsCaPolicy } from './as-ca-store.ts';
import { startAsRuntime, type AsRuntime } from './as-runtime.ts';
import { asSnapshot } from './as-snapshot.ts';
import type { AsWorkerInit, FromAsWorker, ToAsWorker } from './as-worker.ts';
import type { EgressLists, TrustAnchors } from './verifiers.ts';

export interface AsService {
  /** URL gateways verify against (`verify.as_addr`). */
  url: string;
  /** The port it listens on (with --as-bind-address …:0, the one the kernel chose). */
  port: number;
  /** PEM anchors gateways pin (SSL_CERT_FILE + trusted_certs_paths): active, pending and retiring CAs. */
  trustBundlePem(): string;
  /** Called with the new bundle whenever it changes (a rotation began, activated or finished). */
  onTrustBundleChange(listener: (pem: string) => void): void;
  close(): Promise<void>;
}

interface ConfigMapLike {
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
}

export interface AsServiceDeps {
  agents: SharedInformer<ConfidentialAgent>;
  policies: SharedInformer<AttestationPolicy>;
  configMaps?: SharedInformer<ConfigMapLike>;
  core: CoreV1Api;
  operatorNamespace: string;
  host: string;
  port: number;
  publicUrl?: string;
  /** Extra SANs for the serving certificate (the public URL's host and loopback are always included). */
  tlsHosts?: string[];
  caPolicy?: AsCaPolicy;
  /** How often the CA Secret is re-read (a rotation begun by `cai attestation-service rotate-ca`; default 60 s). */
  caCheckIntervalMs?: number;
  nvidiaRimDir?: string;
  trustAnchors?: TrustAnchors;
  egress?: EgressLists;
  logger: Logger;
  events?: EventRecorder;
  /** Tokens by status, refusals by code, challenges (counted here, on the main thread, from the worker's events). */
  metrics?: Pick<DomainMetrics, 'asToken' | 'asRefusal' | 'asChallenge'>;
  isolation?: 'worker' | 'inline';
  snapshotDebounceMs?: number;
  now?: () => number;
}

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './as-worker.ts' : './as-worker.js', import.meta.url);
const EVENT_INTERVAL_MS = 10_000;

/** Default public URL: the AS Service in the operator namespace (the chart passes its own name as --as-public-url). */
export function defaultAsPublicUrl(operatorNamespace: string, port: number): string {
  return `https://confidential-agent-operator-as.${operatorNamespace}.svc:${port}`;
}

function tlsHostsFor(deps: AsServiceDeps): string[] {
  const hosts = ['127.0.0.1', 'localhost', ...(deps.tlsHosts ?? [])];
  if (deps.host !== '0.0.0.0' && deps.host !== '::') hosts.push(deps.host);
  const svcNames = (svc: string, ns: string) => [svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`];
  hosts.push(...svcNames('confidential-agent-operator-as', deps.operatorNamespace));
  if (deps.publicUrl) {
    const h = new URL(deps.publicUrl).hostname.replace(/^\[|\]$/g, '');
    hosts.push(h);
    // A Service URL (<svc>.<ns>.svc): every name in-cluster clients may use for it.
    const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc$/.exec(h);
    if (m) hosts.push(...svcNames(m[1]!, m[2]!));
  }
  return [...new Set(hosts)];
}

export async function startAsService(deps: AsServiceDeps): Promise<AsService> {
  const log = deps.logger;
  const now = deps.now ?? Date.now;
  const caPolicy = deps.caPolicy ?? DEFAULT_AS_CA_POLICY;
  let ca: AsCaState = await loadOrCreateAsCa(deps.core, deps.operatorNamespace, now, caPolicy);
  let bundle = anchorsPem(ca, now());
  const listeners: Array<(pem: string) => void> = [];
  const snapshot = () => asSnapshot({ agents: deps.agents.list(), policies: deps.policies.list(), ...(deps.configMaps ? { configMaps: deps.configMaps.list() } : {}) });

  const lastEvent = new Map<string, number>();
  const onEvent = (e: AsEvent) => {
    if (e.type === 'token-issued') deps.metrics?.asToken(e.status);
    else if (e.type === 'refused') deps.metrics?.asRefusal(e.code);
    else deps.metrics?.asChallenge();
    if (!deps.events || e.type === 'challenge-issued' || !e.policyId) return;
    const id = parsePolicyId(e.policyId);
    if (!id.ok || id.id.kind !== 'agent') return;
    const reason = e.type === 'refused' ? e.code : e.failure ?? (e.status === 'affirming' ? undefined : `Appraisal${e.status[0]!.toUpperCase()}${e.status.slice(1)}`);
    if (!reason) return;
    const key = `${id.id.namespace}/${id.id.agent}|${reason}`;
    if (now() - (lastEvent.get(key) ?? -Infinity) < EVENT_INTERVAL_MS) return;
    if (lastEvent.size > 10_000) lastEvent.clear();
    lastEvent.set(key, now());
    const agent = deps.agents.get(id.id.namespace, id.id.agent);
    const note = e.type === 'refused' ? `attestation service refused the instance: ${e.code}: ${e.message}` : `attestation service appraised the instance ${e.status} (${e.failure ?? 'appraisal'}): TNG gateways refuse it`;
    if (agent) deps.events.emit(agent, 'Warning', 'AttestationServiceRefused', 'Attest', note.slice(0, 1000));
  };

  const init: AsWorkerInit = {
    host: deps.host,
    port: deps.port,
    ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}),
    tlsHosts: tlsHostsFor(deps),
    caStateJson: JSON.stringify(ca),
    snapshot: snapshot(),
    ...(deps.nvidiaRimDir ? { nvidiaRimDir: deps.nvidiaRimDir } : {}),
    ...(deps.trustAnchors ? { trustAnchors: deps.trustAnchors } : {}),
    ...(deps.egress ? { egress: deps.egress } : {}),
  };
  const host = deps.isolation === 'inline' ? await inlineHost(init, log, onEvent, now) : await workerHost(init, log, onEvent);

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => (timer ??= setTimeout(() => ((timer = undefined), host.send({ type: 'snapshot', snapshot: snapshot() })), deps.snapshotDebounceMs ?? 50));
  for (const inf of [deps.agents, deps.policies, ...(deps.configMaps ? [deps.configMaps] : [])] as Array<SharedInformer<unknown>>) {
    inf.on('add', schedule);
    inf.on('update', schedule);
    inf.on('delete', schedule);
  }
  let warned = false;
  const caBeat = setInterval(() => {
    readAsCa(deps.core, deps.operatorNamespace).then(
      (next) => {
        if (!next) return; // deleted under us: keep serving what we have (a restart creates a new CA)
        if (needsRotation(next, now(), caPolicy.warnBeforeSeconds) && !warned) {
          warned = true;
          log.warn({ secretName: AS_CA_SECRET }, 'attestation service CA expires soon: run `cai attestation-service rotate-ca`');
        }
        if (JSON.stringify(next) !== JSON.stringify(ca)) {
          ca = next;
          host.send({ type: 'ca', json: JSON.stringify(ca) });
        }
        const b = anchorsPem(ca, now());
        if (b !== bundle) {
          bundle = b;
          log.info({ anchors: b.split('BEGIN CERTIFICATE').length - 1 }, 'attestation service trust bundle changed');
          for (const l of listeners) l(b);
        }
      },
      (err: unknown) => log.error({ err: err instanceof Error ? err.message : 'error' }, 'attestation service CA Secret unreadable; keeping the current CA'),
    );
  }, deps.caCheckIntervalMs ?? 60_000);
  caBeat.unref();
  log.info({ url: host.url, isolation: deps.isolation ?? 'worker' }, 'attestation service listening');
  return {
    url: host.url,
    port: host.port,
    trustBundlePem: () => bundle,
    onTrustBundleChange: (l) => void listeners.push(l),
    async close() {
      clearInterval(caBeat);
      if (timer) clearTimeout(timer);
      await host.close();
    },
  };
}

interface Host {
  url: string;
  port: number;
  send(m: Exclude<ToAsWorker, { type: 'close' }>): void;
  close(): Promise<void>;
}

async function inlineHost(init: AsWorkerInit, log: Logger, onEvent: (e: AsEvent) => void, now: () => number): Promise<Host> {
  const rt: AsRuntime = await startAsRuntime({ ...init, now, log: (level, obj, msg) => log[level](obj, msg), onEvent });
  return { url: rt.url, port: rt.port, send: (m) => (m.type === 'snapshot' ? rt.setSnapshot(m.snapshot) : rt.setCaState(m.json)), close: () => rt.close() };
}

/** Starts the worker and restarts it (after 1 s) if it dies; the listening port and URL stay the same. */
async function workerHost(init: AsWorkerInit, log: Logger, onEvent: (e: AsEvent) => void): Promise<Host> {
  let closing = false;
  let worker: Worker;
  let current = init;
  const start = () =>
    new Promise<{ url: string; port: number }>((resolve, reject) => {
      const w = new Worker(WORKER_URL, { workerData: current });
      worker = w;
      let ready = false;
      w.on('message', (m: FromAsWorker) => {
        if (m.type === 'ready') {
          ready = true;
          resolve({ url: m.url, port: m.port });
        } else if (m.type === 'event') onEvent(m.event);
        else if (m.type === 'log') log[m.level](m.obj, m.msg);
        else if (m.type === 'failed') reject(new Error(`attestation service failed to start: ${m.message}`));
      });
      w.on('error', (err) => {
        log.error({ err: err.message }, 'attestation service worker crashed');
        if (!ready) reject(err);
      });
      w.on('exit', (code) => {
        if (closing || !ready) return;
        log.error({ code }, 'attestation service worker exited; restarting in 1 s');
        setTimeout(() => void start().catch((err: unknown) => log.error({ err: String(err) }, 'attestation service worker restart failed')), 1000).unref();
      });
    });
  const first = await start();
  current = { ...current, port: first.port };
  return {
    url: first.url,
    port: first.port,
    send: (m) => {
      // A restarted worker starts from the latest state, not the first one.
      if (m.type === 'snapshot') current = { ...current, snapshot: m.snapshot };
      else current = { ...current, caStateJson: m.json };
      worker.postMessage(m);
    },
    async close() {
      closing = true;
      const w = worker;
      await new Promise<void>((resolve) => {
        const done = setTimeout(() => void w.terminate().then(() => resolve()), 5000);
        w.on('exit', () => {
          clearTimeout(done);
          resolve();
        });
        w.postMessage({ type: 'close' } satisfies ToAsWorker);
      });
    },
  };
}
