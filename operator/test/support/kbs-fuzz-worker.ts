// Worker-thread fuzzer for integration tests: sends productionLimitCases to a KBS for `durationMs` so the
// test's main thread only measures (event-loop lag, /auth latency, Lease renewals) and builds no bodies.
import { parentPort, workerData } from 'node:worker_threads';
import { niceThisThread } from '../../src/app/thread-priority.ts';
import { generateTeeKeyPair } from '../../src/protocol/tee-key.ts';
import { productionLimitCases, runFuzz } from './kbs-fuzz.ts';

export interface FuzzWorkerInput {
  url: string;
  ca?: string;
  durationMs: number;
  concurrency: number;
}

const input = workerData as FuzzWorkerInput;
// The attacker would not share this process's CPU share; keep the test's own fuzzer from starving it.
niceThisThread(19);
const cases = productionLimitCases(generateTeeKeyPair().publicKey);
parentPort?.postMessage({ type: 'started' });
const end = Date.now() + input.durationMs;
const result = await runFuzz(input.url, cases, { concurrency: input.concurrency, until: () => Date.now() < end, ...(input.ca ? { ca: input.ca } : {}) });
parentPort?.postMessage({ type: 'done', result });
