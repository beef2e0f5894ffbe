// Prometheus metrics with the names controller-runtime and client-go use, so existing dashboards and
// alerts (kubebuilder's, kube-prometheus') work unchanged.

import * as prom from 'prom-client';
import type { WorkQueueMetrics } from './workqueue.ts';

export type ReconcileResultLabel = 'success' | 'error' | 'requeue' | 'requeue_after';

// controller-runtime's reconcile_time_seconds buckets.
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3,
  3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
// client-go workqueue: ExponentialBuckets(10e-9, 10, 12).
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);

export class RuntimeMetrics {
  readonly registry: prom.Registry;
  readonly reconcileTotal: prom.Counter<'controller' | 'result'>;
  readonly reconcileErrors: prom.Counter<'controller'>;
  readonly reconcileTime: prom.Histogram<'controller'>;
  readonly maxConcurrentReconciles: prom.Gauge<'controller'>;
  readonly activeWorkers: prom.Gauge<'controller'>;
  readonly queueDepth: prom.Gauge<'name' | 'controller'>;
  readonly queueAdds: prom.Counter<'name' | 'controller'>;
  readonly queueRetries: prom.Counter<'name' | 'controller'>;
  readonly queueDuration: prom.Histogram<'name' | 'controller'>;
  readonly workDuration: prom.Histogram<'name' | 'controller'>;
  readonly leaderStatus: prom.Gauge<'name'>;
  readonly informerEvents: prom.Counter<'resource' | 'type'>;
  readonly informerRestarts: prom.Counter<'resource' | 'reason'>;

  constructor(registry: prom.Registry) {
    this.registry = registry;
    const registers = [registry];
    this.reconcileTotal = new prom.Counter({ name: 'controller_runtime_reconcile_total', help: 'Total number of reconciliations per controller', labelNames: ['controller', 'result'], registers });
    this.reconcileErrors = new prom.Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Total number of reconciliation errors per controller', labelNames: ['controller'], registers });
    this.reconcileTime = new prom.Histogram({ name: 'controller_runtime_reconcile_time_seconds', help: 'Length of time per reconciliation per controller', labelNames: ['controller'], buckets: RECONCILE_BUCKETS, registers });
    this.maxConcurrentReconciles = new prom.Gauge({ name: 'controller_runtime_max_concurrent_reconciles', help: 'Maximum number of concurrent reconciles per controller', labelNames: ['controller'], registers });
    this.activeWorkers = new prom.Gauge({ name: 'controller_runtime_active_workers', help: 'Number of currently used workers per controller', labelNames: ['controller'], registers });
    this.queueDepth = new prom.Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name', 'controller'], registers });
    this.queueAdds = new prom.Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name', 'controller'], registers });
    this.queueRetries = new prom.Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name', 'controller'], registers });
    this.queueDuration = new prom.Histogram({ name: 'workqueue_queue_duration_seconds', help: 'How long in seconds an item stays in workqueue before being requested', labelNames: ['name', 'controller'], buckets: QUEUE_BUCKETS, registers });
    this.workDuration = new prom.Histogram({ name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes', labelNames: ['name', 'controller'], buckets: QUEUE_BUCKETS, registers });
    this.leaderStatus = new prom.Gauge({ name: 'leader_election_master_status', help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. name is the string used to identify the lease', labelNames: ['name'], registers });
    this.informerEvents = new prom.Counter({ name: 'informer_events_total', help: 'Watch events and list items delivered by informers', labelNames: ['resource', 'type'], registers });
    this.informerRestarts = new prom.Counter({ name: 'informer_restarts_total', help: 'Informer list/watch restarts by reason (error, gone, watchdog, timeout)', labelNames: ['resource', 'reason'], registers });
  }

  /** Pre-creates every series of a controller at 0 so dashboards see it before the first reconcile. */
  initController(controller: string, workers: number): void {
    for (const result of ['success', 'error', 'requeue', 'requeue_after'] as const) this.reconcileTotal.inc({ controller, result }, 0);
    this.reconcileErrors.inc({ controller }, 0);
    this.maxConcurrentReconciles.set({ controller }, workers);
    this.activeWorkers.set({ controller }, 0);
    this.queueDepth.set({ name: controller, controller }, 0);
    this.queueAdds.inc({ name: controller, controller }, 0);
    this.queueRetries.inc({ name: controller, controller }, 0);
  }

  queueMetrics(controller: string): WorkQueueMetrics {
    const labels = { name: controller, controller };
    return {
      add: () => this.queueAdds.inc(labels),
      depth: (n) => this.queueDepth.set(labels, n),
      queueDuration: (s) => this.queueDuration.observe(labels, s),
      workDuration: (s) => this.workDuration.observe(labels, s),
      retry: () => this.queueRetries.inc(labels),
    };
  }
}
