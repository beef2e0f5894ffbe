// The TypeScript side of the controller-runtime comparison in npm run bench:reconcile: a controller on
// this project's runtime (operator/src/runtime) doing exactly what hack/cr-reference/main.go does per
// ConfidentialAgent — add a finalizer (merge patch with a resourceVersion precondition), write status
// twice (Provisioned, then Ready; merge patches on /status), emit one events.k8s.io/v1 Event; objects
// already Ready at their generation cost nothing. Both have no client-side QPS limit (controller-runtime's
// default since v0.21: -1) and the same worker count. Prints "FIRST_RECONCILE <unix ms>" once on stdout.
// Usage: node --max-semi-space-size=2 … operator/bench/runtime-worker.ts --kubeconfig F --namespace N --workers W
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../src/api/common.ts';
import { setCondition, type Condition } from '../src/runtime/conditions.ts';
import { addFinalizer, removeFinalizer } from '../src/runtime/finalizers.ts';
import { createLogger } from '../src/runtime/logging.ts';
import { Manager, type KubernetesObject } from '../src/runtime/manager.ts';
import { patchStatus } from '../src/runtime/status.ts';
import type { ResourceRef } from '../src/runtime/types.ts';

const FINALIZER = 'confidential-agent.io/finalizer';
const { values } = parseArgs({ options: { kubeconfig: { type: 'string' }, namespace: { type: 'string' }, workers: { type: 'string', default: '16' } } });
if (!values.kubeconfig || !values.namespace) throw new Error('usage: runtime-worker.ts --kubeconfig FILE --namespace NS [--workers N]');
const namespace = values.namespace;

type Agent = KubernetesObject & { metadata: { name: string; namespace: string }; status?: { observedGeneration?: number; conditions?: Condition[] } };
const ref: ResourceRef = { group: GROUP, version: VERSION, plural: 'confidentialagents', kind: 'ConfidentialAgent', namespaced: true, namespace };

const kc = new KubeConfig();
kc.loadFromFile(values.kubeconfig);
const mgr = new Manager({ kubeConfig: kc, logger: createLogger({ level: 'warn' }), leaderElection: false, reportingController: 'confidential-agent.io/bench' });
const agents = mgr.informer<Agent>(ref);
let first = false;
mgr.addController<Agent>({
  name: 'confidentialagent',
  for: agents,
  workers: Number(values.workers),
  reconcile: async (key, ctx) => {
    if (!first) {
      first = true;
      process.stdout.write(`FIRST_RECONCILE ${Date.now()}\n`);
    }
    let a = agents.get(key.namespace, key.name);
    if (!a) return;
    if (a.metadata.deletionTimestamp) {
      await removeFinalizer(mgr.client, ref, a, FINALIZER);
      return;
    }
    a = await addFinalizer(mgr.client, ref, a, FINALIZER);
    const generation = a.metadata.generation ?? 0;
    const ready = a.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True' && a.status?.observedGeneration === generation) return;
    const now = new Date(ctx.clock.now());
    // Status write 1: provisioned, not yet ready.
    let conditions = setCondition(a.status?.conditions ?? [], { type: 'Provisioned', status: 'True', reason: 'InstanceRunning', message: 'bench' }, generation, now);
    conditions = setCondition(conditions, { type: 'Ready', status: 'False', reason: 'NotAttested', message: 'bench' }, generation, now);
    await patchStatus(mgr.client, ref, a, { conditions }, ctx.signal);
    // Status write 2: ready (diffed against what write 1 stored).
    const written: Agent = { ...a, status: { observedGeneration: generation, conditions } };
    conditions = setCondition(conditions, { type: 'Ready', status: 'True', reason: 'Ready', message: 'bench' }, generation, now);
    await patchStatus(mgr.client, ref, written, { conditions }, ctx.signal);
    mgr.events.emit(a, 'Normal', 'Ready', 'Reconcile', `agent ${a.metadata.name} is ready`);
  },
});
await mgr.start();
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void mgr.stop({ gracePeriodMs: 2000 }).then(() => process.exit(0)));
