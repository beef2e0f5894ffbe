// The Manager ties the runtime together (controller-runtime's manager): shared informers, controllers,
// leader election, Events, metrics and the health/metrics HTTP server, with a graceful stop.
//
// start(): http server → informers (wait for sync) → leader election → controllers' workers while leading.
// stop():  controllers stop taking work and drain (bounded) → events flushed → lease released →
//          informers stopped → http server closed.
// Leadership lost (renew deadline passed): workers stop at once (their signals abort), leader_election_master_status
// drops to 0, onLeadershipLost is called; the manager then campaigns again unless stopped.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import * as prom from 'prom-client';
import { makeClients, type KubeClients } from './clients.ts';
import { Controller, type ControllerOptions } from './controller.ts';
import { RuntimeError } from './errors.ts';
import { EventsV1Recorder, type EventRecorder } from './events.ts';
import { startHttpServer, type RunningHttpServer } from './http.ts';
import { Informer, type SharedInformer } from './informer.ts';
import { LeaderElector } from './leader-election.ts';
import { RuntimeMetrics } from './metrics.ts';
import { shareDispatcher } from './shared-dispatcher.ts';
import type { KubernetesObject, ResourceRef } from './types.ts';

export type { KubeClients } from './clients.ts';
export type { ControllerOptions, EventSource, OwnsWatch, ReconcileContext, ReconcileResult } from './controller.ts';
export type { Clock } from './clock.ts';
export type { EventRecorder } from './events.ts';
export type { InformerEvent, SharedInformer } from './informer.ts';
export type { KubernetesObject, ObjectKey, ObjectMeta, ResourceRef } from './types.ts';

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  registry?: prom.Registry;
  /** Unique per process; default hostname_uuid (client-go convention). */
  identity?: string;
  leaderElection?: { namespace: string; name: string; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number } | false;
  /** Port for /metrics, /healthz, /readyz; 0 = random; undefined = no server. */
  httpPort?: number;
  httpHost?: string;
  /** Periodic resync of every informer (default 10 min; 0 disables). */
  resyncPeriodMs?: number;
  /** How long stop() waits for in-flight reconciles before aborting them (default 30 s). */
  gracefulShutdownMs?: number;
  /** Informer retry backoff after list/watch errors (default 800 ms doubling to 30 s). */
  informerBackoff?: { initialMs?: number; maxMs?: number };
  /** Informer watchdog: restart a list/watch that showed no progress this long (default 120 s). */
  informerWatchdogMs?: number;
  /** start() fails if the informers have not synced within this time (default 120 s, controller-runtime's CacheSyncTimeout). */
  cacheSyncTimeoutMs?: number;
  /** fieldManager for the runtime's writes (default confidential-agent-operator). */
  fieldManager?: string;
  /** events.k8s.io reportingController (default confidential-agent.io/operator). */
  reportingController?: string;
  /** Called after workers stopped because the lease could not be renewed. Default: log and re-campaign. */
  onLeadershipLost?: () => void;
}

export interface StopOptions {
  /** false simulates a crash for tests: the lease is neither renewed nor released and expires on its own. */
  releaseLease?: boolean;
  gracePeriodMs?: number;
}

export class Manager {
  readonly client: KubeClients;
  readonly events: EventRecorder;
  readonly metrics: prom.Registry;
  readonly httpAddress: Promise<{ host: string; port: number }>;
  /** Resolves the first time this manager starts its workers (immediately without leader election). */
  readonly elected: Promise<void>;
  readonly identity: string;
  readonly #o: ManagerOptions;
  readonly #log: Logger;
  readonly #m: RuntimeMetrics;
  readonly #recorder: EventsV1Recorder;
  readonly #informers = new Map<string, Informer<KubernetesObject>>();
  readonly #controllers: Controller<KubernetesObject>[] = [];
  readonly #elector: LeaderElector | undefined;
  readonly #stopCampaign = new AbortController();
  #resolveHttp: (a: { host: string; port: number }) => void = () => undefined;
  #rejectHttp: (e: Error) => void = () => undefined;
  #resolveElected: () => void = () => undefined;
  #http: RunningHttpServer | undefined;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #leading = false;
  #campaign: Promise<void> | undefined;

  constructor(opts: ManagerOptions) {
    this.#o = opts;
    this.identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
    this.#log = opts.logger.child({ component: 'manager', identity: this.identity });
    this.metrics = opts.registry ?? new prom.Registry();
    this.#m = new RuntimeMetrics(this.metrics);
    // client-node 2.0.1 would build a new undici dispatcher per request (lease renewals every 2 s, every
    // watch reconnect): share one per cluster + credentials. Idempotent if the caller already did.
    shareDispatcher(opts.kubeConfig);
    this.client = makeClients(opts.kubeConfig, opts.fieldManager);
    this.#recorder = new EventsV1Recorder({
      api: this.client.events,
      reportingController: opts.reportingController ?? 'confidential-agent.io/operator',
      reportingInstance: this.identity,
      logger: opts.logger.child({ component: 'events' }),
    });
    this.events = this.#recorder;
    this.httpAddress = new Promise((resolve, reject) => {
      this.#resolveHttp = resolve;
      this.#rejectHttp = reject;
    });
    this.httpAddress.catch(() => undefined); // only an error for callers that ask
    this.elected = new Promise((resolve) => (this.#resolveElected = resolve));
    if (opts.leaderElection) {
      const le = opts.leaderElection;
      this.#elector = new LeaderElector({
        api: this.client.coordination,
        config: { ...le, identity: this.identity },
        logger: opts.logger.child({ component: 'leader-election' }),
        onStatus: (leading) => this.#m.leaderStatus.set({ name: le.name }, leading ? 1 : 0),
      });
      this.#m.leaderStatus.set({ name: le.name }, 0);
    }
  }

  /** The shared informer for r (one per resource and namespace); started with the manager. */
  informer<T extends KubernetesObject>(r: ResourceRef): SharedInformer<T> {
    const key = `${r.group}/${r.version}/${r.plural}@${r.namespace ?? ''}${r.labelSelector ? '?l=' + r.labelSelector : ''}${r.fieldSelector ? '?f=' + r.fieldSelector : ''}`;
    let inf = this.#informers.get(key);
    if (!inf) {
      inf = new Informer<KubernetesObject>({
        kubeConfig: this.#o.kubeConfig,
        resource: r,
        logger: this.#o.logger,
        resyncPeriodMs: this.#o.resyncPeriodMs ?? 10 * 60_000,
        ...(r.labelSelector ? { labelSelector: r.labelSelector } : {}),
        ...(r.fieldSelector ? { fieldSelector: r.fieldSelector } : {}),
        ...(this.#o.informerBackoff ? { backoff: this.#o.informerBackoff } : {}),
        ...(this.#o.informerWatchdogMs ? { watchdogMs: this.#o.informerWatchdogMs } : {}),
        metrics: this.#m,
      });
      this.#informers.set(key, inf);
      if (this.#state === 'starting' || this.#state === 'running') inf.start();
    }
    return inf as unknown as SharedInformer<T>;
  }

  addController<T extends KubernetesObject>(c: ControllerOptions<T>): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') throw new RuntimeError('INVALID_ARGUMENT', `addController(${c.name}): manager is stopped`);
    if (this.#controllers.some((x) => x.name === c.name)) throw new RuntimeError('INVALID_ARGUMENT', `addController: a controller named ${c.name} already exists`);
    const ctrl = new Controller<T>(c, { logger: this.#o.logger, metrics: this.#m });
    this.#controllers.push(ctrl as unknown as Controller<KubernetesObject>);
    if (this.#leading && this.#state === 'running') ctrl.start();
  }

  isLeader(): boolean {
    return this.#leading;
  }

  /** Informer statistics (lists, watches, errors, 410s) keyed by resource, for diagnostics and tests. */
  informerStats(): Record<string, ReturnType<Informer<KubernetesObject>['stats']>> {
    return Object.fromEntries([...this.#informers].map(([k, v]) => [k, v.stats()]));
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new RuntimeError('INVALID_ARGUMENT', `manager.start(): already ${this.#state}`);
    this.#state = 'starting';
    if (this.#o.httpPort !== undefined) {
      try {
        this.#http = await startHttpServer({
          host: this.#o.httpHost ?? '0.0.0.0',
          port: this.#o.httpPort,
          registry: this.metrics,
          healthz: [{ name: 'ping', check: () => undefined }, { name: 'informers', check: () => this.#informersAlive() }],
          readyz: [{ name: 'informers-synced', check: () => this.#informersSynced() }, { name: 'shutdown', check: () => (this.#state === 'stopping' || this.#state === 'stopped' ? 'shutting down' : undefined) }],
        });
        this.#resolveHttp(this.#http.address);
        this.#log.info(this.#http.address, 'serving /metrics, /healthz, /readyz');
      } catch (err) {
        this.#rejectHttp(err instanceof Error ? err : new Error(String(err)));
        this.#state = 'stopped';
        throw err;
      }
    } else {
      this.#rejectHttp(new RuntimeError('INVALID_ARGUMENT', 'manager runs without an http server (httpPort unset)'));
    }
    for (const inf of this.#informers.values()) inf.start();
    const syncBudget = this.#o.cacheSyncTimeoutMs ?? 120_000;
    try {
      await Promise.all([...this.#informers.values()].map((inf) => inf.waitForSync(AbortSignal.any([this.#stopCampaign.signal, AbortSignal.timeout(syncBudget)]))));
    } catch (err) {
      if (this.#stopCampaign.signal.aborted) return;
      const pending = this.#informersSynced() ?? '';
      this.#log.error({ pending }, 'informers did not sync in time');
      await this.stop({ gracePeriodMs: 0 });
      throw new RuntimeError('TIMEOUT', `manager.start(): informers did not sync within ${syncBudget} ms (${pending}); check RBAC (list/watch) and that the CRDs are installed`, { cause: err });
    }
    if (this.#stopCampaign.signal.aborted || this.#state !== 'starting') return; // stop() raced with start()
    this.#state = 'running';
    this.#log.info({ informers: this.#informers.size, controllers: this.#controllers.length }, 'informers synced');
    if (!this.#elector) {
      this.#startLeading();
      return;
    }
    this.#campaign = this.#campaignLoop(this.#elector);
  }

  async stop(opts: StopOptions = {}): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    const release = opts.releaseLease ?? true;
    this.#state = 'stopping';
    this.#log.info({ releaseLease: release }, 'stopping');
    const grace = opts.gracePeriodMs ?? this.#o.gracefulShutdownMs ?? 30_000;
    if (!release) this.#stopCampaign.abort(); // crash simulation: stop renewing right away
    // Drain while still renewing the lease, so no other replica starts while we finish in-flight work.
    await Promise.all(this.#controllers.map((c) => c.stop(grace)));
    this.#stopCampaign.abort();
    await this.#campaign;
    await Promise.race([this.#recorder.flush(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    if (release) await this.#elector?.release();
    this.#setLeading(false);
    await Promise.all([...this.#informers.values()].map((i) => i.stop()));
    await this.#http?.close();
    this.#state = 'stopped';
    this.#log.info('stopped');
  }

  async #campaignLoop(elector: LeaderElector): Promise<void> {
    const signal = this.#stopCampaign.signal;
    while (!signal.aborted) {
      if (!(await elector.acquire(signal))) return;
      if (this.#state !== 'running') return;
      this.#startLeading();
      const outcome = await elector.renewLoop(signal);
      if (outcome === 'stopped') return;
      this.#setLeading(false);
      await Promise.all(this.#controllers.map((c) => c.stop(elector.renewDeadlineMs, true)));
      this.#log.error('leadership lost; workers stopped');
      try {
        this.#o.onLeadershipLost?.();
      } catch (err) {
        this.#log.error({ err: String(err) }, 'onLeadershipLost threw');
      }
    }
  }

  #startLeading(): void {
    this.#setLeading(true);
    for (const c of this.#controllers) c.start();
    this.#resolveElected();
  }

  #setLeading(v: boolean): void {
    this.#leading = v;
  }

  #informersSynced(): string | undefined {
    const pending = [...this.#informers].filter(([, i]) => !i.hasSynced()).map(([k]) => k);
    return pending.length ? `not synced: ${pending.join(', ')}` : undefined;
  }

  #informersAlive(): string | undefined {
    if (this.#state !== 'running') return undefined;
    const dead = [...this.#informers].filter(([, i]) => !i.isRunning()).map(([k]) => k);
    return dead.length ? `not running: ${dead.join(', ')}` : undefined;
  }
}
