// Thread CPU priority for worker threads. On Linux a thread is a task with its own nice value (found via
// /proc/thread-self), so a worker can yield CPU to the process's main thread under load.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Lowers this thread's CPU priority (Linux: a thread is a task with its own nice value, found through
 * /proc/thread-self). Under a flood the kernel then prefers the operator's main thread — reconciles,
 * probes and Lease renewal — over attestation work. Elsewhere it is a no-op.
 */
export function niceThisThread(nice: number): boolean {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid)) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
