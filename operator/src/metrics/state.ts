// Object state as metrics, kube-state-metrics style: gauges computed at scrape time from the informer
// caches (no bookkeeping to drift), one series per object and condition, labels bounded. Plus the
// time-to-Ready histogram, observed when an agent's Ready condition turns True for the first time.
import * as prom from 'prom-client';
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { Condition } from '../api/common.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { SealedCredential } from '../api/sealed-credential.ts';
import type { SharedInformer } from '../runtime/informer.ts';
import { boundedLabel, objectLabel } from './labels.ts';
import { METRIC } from './names.ts';

export interface StateSources {
  agents: SharedInformer<ConfidentialAgent>;
  policies: SharedInformer<AttestationPolicy>;
  credentials: SharedInformer<SealedCredential>;
}

// Creation → Ready spans seconds (local) to ~15 minutes (a gn8v-tee instance boots, the GPUs attest).
const READY_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600];
const EAR_STATUSES = ['affirming', 'warning', 'contraindicated'] as const;

const isoSeconds = (s: string | undefined): number | undefined => {
  const t = s ? Date.parse(s) : NaN;
  return Number.isFinite(t) ? t / 1000 : undefined;
};
const readyOf = (conditions: Condition[] | undefined) => conditions?.find((c) => c.type === 'Ready');

export function registerStateMetrics(registry: prom.Registry, src: StateSources): { timeToReady: prom.Histogram } {
  const registers = [registry];
  const conditionGauge = (name: string, help: string, list: () => Array<{ metadata: { namespace?: string; name: string }; status?: { conditions?: Condition[] } }>) =>
    new prom.Gauge({
      name,
      help,
      labelNames: ['namespace', 'name', 'condition', 'status', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const o of list()) {
          for (const c of o.status?.conditions ?? []) {
            this.set({ namespace: objectLabel(o.metadata.namespace), name: objectLabel(o.metadata.name), condition: boundedLabel(c.type), status: boundedLabel(c.status), reason: boundedLabel(c.reason) }, 1);
          }
        }
      },
    });

  conditionGauge(METRIC.agentCondition, 'Conditions of each ConfidentialAgent (1 per condition, with its status and reason).', () => src.agents.list());
  conditionGauge(METRIC.policyCondition, 'Conditions of each AttestationPolicy (1 per condition, with its status and reason).', () => src.policies.list());
  conditionGauge(METRIC.credentialCondition, 'Conditions of each SealedCredential (1 per condition, with its status and reason).', () => src.credentials.list());

  new prom.Gauge({
    name: METRIC.agentAttestationStatus,
    help: 'EAR status of each agent\'s last appraisal (1 for the status it has, 0 for the others).',
    labelNames: ['namespace', 'name', 'status'],
    registers,
    collect() {
      this.reset();
      for (const a of src.agents.list()) {
        const current = a.status?.attestation?.status;
        if (!current) continue;
        for (const s of EAR_STATUSES) this.set({ namespace: objectLabel(a.metadata.namespace), name: objectLabel(a.metadata.name), status: s }, s === current ? 1 : 0);
      }
    },
  });
  new prom.Gauge({
    name: METRIC.agentNextAttestation,
    help: 'When each agent is re-attested next (Unix seconds).',
    labelNames: ['namespace', 'name'],
    registers,
    collect() {
      this.reset();
      for (const a of src.agents.list()) {
        const t = isoSeconds(a.status?.attestation?.nextAttestationAt);
        if (t !== undefined) this.set({ namespace: objectLabel(a.metadata.namespace), name: objectLabel(a.metadata.name) }, t);
      }
    },
  });
  new prom.Gauge({
    name: METRIC.instances,
    help: 'Instances backing agents, by provider and provider-reported state.',
    labelNames: ['provider', 'state'],
    registers,
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const a of src.agents.list()) {
        const i = a.status?.instance;
        if (!i) continue;
        const key = `${boundedLabel(i.provider)}\u0000${boundedLabel(i.state)}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [key, n] of counts) {
        const [provider = 'Other', state = 'Other'] = key.split('\u0000');
        this.set({ provider, state }, n);
      }
    },
  });
  new prom.Gauge({
    name: METRIC.policyCheckpointTreeSize,
    help: 'Tree size of the last transparency-log checkpoint each AttestationPolicy verified.',
    labelNames: ['namespace', 'name'],
    registers,
    collect() {
      this.reset();
      for (const p of src.policies.list()) {
        const size = p.status?.checkpoint?.treeSize;
        if (size !== undefined) this.set({ namespace: objectLabel(p.metadata.namespace), name: objectLabel(p.metadata.name) }, size);
      }
    },
  });
  new prom.Gauge({
    name: METRIC.policyLastResolved,
    help: 'When each AttestationPolicy last resolved its reference values (Unix seconds).',
    labelNames: ['namespace', 'name'],
    registers,
    collect() {
      this.reset();
      for (const p of src.policies.list()) {
        const t = isoSeconds(p.status?.lastResolvedAt);
        if (t !== undefined) this.set({ namespace: objectLabel(p.metadata.namespace), name: objectLabel(p.metadata.name) }, t);
      }
    },
  });

  const timeToReady = new prom.Histogram({
    name: METRIC.agentTimeToReady,
    help: 'Seconds from an agent\'s creation to its first Ready=True.',
    buckets: READY_BUCKETS,
    registers,
  });
  // Only a transition seen live counts (a restart's relist delivers adds, which are not observed), and only
  // an agent's first one: a later flap is not "time to Ready".
  const seen = new Set<string>();
  src.agents.on('delete', (obj) => seen.delete(obj.metadata.uid ?? ''));
  src.agents.on('update', (obj, old) => {
    const now = readyOf(obj.status?.conditions);
    if (now?.status !== 'True' || readyOf(old?.status?.conditions)?.status === 'True') return;
    const uid = obj.metadata.uid ?? '';
    if (seen.has(uid)) return;
    seen.add(uid);
    const created = isoSeconds(obj.metadata.creationTimestamp);
    const ready = isoSeconds(now.lastTransitionTime);
    if (created !== undefined && ready !== undefined && ready >= created) timeToReady.observe(ready - created);
  });
  return { timeToReady };
}
