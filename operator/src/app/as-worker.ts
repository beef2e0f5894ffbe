// Worker-thread entry of the attestation service: runs app/as-runtime.ts off the main thread, so a slow or
// hostile verification never delays reconciles, probes or Lease renewal (the KBS's pattern, app/kbs-worker.ts).
//   main → worker: {type:'snapshot', snapshot} | {type:'ca', json} | {type:'close'}
//   worker → main: {type:'ready', url, port} | {type:'event', event} | {type:'log', …} | {type:'failed', message} | {type:'closed'}
import { parentPort, workerData } from 'node:worker_threads';
import type { AsEvent } from '../attestation/service/handlers.ts';
import type { AsSnapshot } from '../attestation/service/policy-source.ts';
import { startAsRuntime, type AsRuntimeOptions } from './as-runtime.ts';
import { niceThisThread } from './thread-priority.ts';

export type AsWorkerInit = Omit<AsRuntimeOptions, 'log' | 'onEvent' | 'now'>;
export type ToAsWorker = { type: 'snapshot'; snapshot: AsSnapshot } | { type: 'ca'; json: string } | { type: 'close' };
export type FromAsWorker =
  | { type: 'ready'; url: string; port: number }
  | { type: 'event'; event: AsEvent }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; obj: object; msg: string }
  | { type: 'failed'; message: string }
  | { type: 'closed' };

const port = parentPort;
if (port) {
  niceThisThread(10);
  const post = (m: FromAsWorker) => port.postMessage(m);
  startAsRuntime({
    ...(workerData as AsWorkerInit),
    log: (level, obj, msg) => post({ type: 'log', level, obj, msg }),
    onEvent: (event) => post({ type: 'event', event }),
  }).then(
    (rt) => {
      port.on('message', (m: ToAsWorker) => {
        if (m.type === 'snapshot') rt.setSnapshot(m.snapshot);
        else if (m.type === 'ca') rt.setCaState(m.json);
        else if (m.type === 'close')
          void rt.close().then(() => {
            post({ type: 'closed' });
            port.close();
          });
      });
      post({ type: 'ready', url: rt.url, port: rt.port });
    },
    (err: unknown) => {
      post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
      port.close();
    },
  );
}
