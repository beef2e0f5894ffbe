// Worker-thread entry of the operator's KBS: runs app/kbs-runtime.ts off the main thread, so a slow or
// hostile attestation never delays reconciles, probes or Lease renewal. Protocol (structured clone):
//   main → worker: {type:'snapshot', snapshot} | {type:'keyring', json} | {type:'session-keys', keys} | {type:'close'}
//   worker → main: {type:'ready', url, port, guestTrust} | {type:'event', event} | {type:'log', …}
//                  | {type:'certificate', guestTrust} | {type:'metrics', calls} | {type:'failed', message} | {type:'closed'}
// Metrics cross as batches of recorded calls (metrics/forward.ts): prom-client lives on the main thread only.
import { parentPort, workerData } from 'node:worker_threads';
import { niceThisThread } from './thread-priority.ts';
import { startKbsRuntime, type KbsRuntimeOptions } from './kbs-runtime.ts';
import type { KbsEvent } from '../release/kbs/types.ts';
import type { KbsSnapshot } from './kbs-snapshot.ts';
import { forwardingRecorder, type MetricCall } from '../metrics/forward.ts';
import type { SerializedSessionKeys } from './kbs-session-keys.ts';

export type KbsWorkerInit = Omit<KbsRuntimeOptions, 'log' | 'onEvent' | 'onCertificate' | 'metrics'> & { forwardMetrics?: boolean };
export type ToWorker = { type: 'snapshot'; snapshot: KbsSnapshot } | { type: 'keyring'; json: string } | { type: 'session-keys'; keys: SerializedSessionKeys } | { type: 'close' };
export type FromWorker =
  | { type: 'ready'; url: string; port: number; guestTrust?: string }
  | { type: 'event'; event: KbsEvent }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; obj: object; msg: string }
  | { type: 'certificate'; guestTrust: string }
  | { type: 'metrics'; calls: MetricCall[] }
  | { type: 'failed'; message: string }
  | { type: 'closed' };

const port = parentPort;
if (port) {
  // Under a flood the kernel then prefers the main thread (reconciles, probes, Lease renewal).
  niceThisThread(10);
  const post = (m: FromWorker) => port.postMessage(m);
  const { forwardMetrics, ...init } = workerData as KbsWorkerInit;
  const metrics = forwardMetrics ? forwardingRecorder((calls) => post({ type: 'metrics', calls })) : undefined;
  startKbsRuntime({
    ...init,
    ...(metrics ? { metrics } : {}),
    log: (level, obj, msg) => post({ type: 'log', level, obj, msg }),
    onEvent: (event) => post({ type: 'event', event }),
    onCertificate: (guestTrust) => post({ type: 'certificate', guestTrust }),
  }).then(
    (rt) => {
      port.on('message', (m: ToWorker) => {
        if (m.type === 'snapshot') rt.setSnapshot(m.snapshot);
        else if (m.type === 'keyring') rt.setKeyring(m.json);
        else if (m.type === 'session-keys') rt.setSessionKeys(m.keys);
        else if (m.type === 'close') void rt.close().then(() => {
          metrics?.flush();
          post({ type: 'closed' });
          port.close();
        });
      });
      post({ type: 'ready', url: rt.url, port: rt.port, ...(rt.guestTrust ? { guestTrust: rt.guestTrust } : {}) });
    },
    (err: unknown) => {
      post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
      port.close();
    },
  );
}
