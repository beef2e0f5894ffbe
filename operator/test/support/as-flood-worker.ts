// Worker-thread flood for integration tests: POSTs hostile attestation-service requests at (and over) the
// production limits, plus genuine TNG-shaped ones, for `durationMs`, so the test's main thread (the
// operator's) only measures. Bodies are built here, before the clock starts.
import { Agent } from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';
import { niceThisThread } from '../../src/app/thread-priority.ts';
import { httpCall } from '../../src/sim/guest/http.ts';
import { tngShapedRequest } from './as-harness.ts';

export interface AsFloodInput {
  url: string;
  ca: string;
  policyId: string;
  durationMs: number;
  concurrency: number;
}

const input = workerData as AsFloodInput;
niceThisThread(19);
const fill = 4 * 1024 * 1024 - 4096;
const bodies: Buffer[] = [
  Buffer.from('['.repeat(fill)),
  Buffer.from('{' + Array.from({ length: 300_000 }, (_, i) => `"${i}":1`).join(',') + '}'),
  Buffer.alloc(fill, 0x20),
  Buffer.from(JSON.stringify({ verification_requests: [{ tee: 'sample', evidence: 'A'.repeat(3 * 1024 * 1024) }], policy_ids: [input.policyId] })),
  tngShapedRequest({ policyId: input.policyId }).body,
];
const agent = new Agent({ keepAlive: true, maxSockets: input.concurrency, ca: input.ca });
const statuses: Record<number, number> = {};
let sent = 0;
parentPort?.postMessage({ type: 'started' });
const end = Date.now() + input.durationMs;
await Promise.all(
  Array.from({ length: input.concurrency }, async () => {
    while (Date.now() < end) {
      const body = bodies[sent++ % bodies.length]!;
      try {
        const r = await httpCall('POST', `${input.url}/attestation`, { rawBody: body, agent: agent as never, ca: input.ca, timeoutMs: 30_000 });
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      } catch {
        statuses[-1] = (statuses[-1] ?? 0) + 1;
      }
    }
  }),
);
agent.destroy();
parentPort?.postMessage({ type: 'done', sent, statuses });
