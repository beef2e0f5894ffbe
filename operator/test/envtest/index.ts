// Vitest helpers for integration tests against the real control plane (etcd + kube-apiserver from
// $KUBEBUILDER_ASSETS, see operator/src/envtest/control-plane.ts). One control plane per test file:
//
//   const controlPlane = useControlPlane();
//   it('...', async () => { const kc = controlPlane().kubeConfig(); ... });
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/envtest/control-plane.ts';

/** The repository's crds/ directory (generated from operator/src/api by `npm run crds`). */
export const CRD_DIR = join(import.meta.dirname, '..', '..', '..', 'crds');

/**
 * Starts a control plane with the project CRDs installed before the file's tests and stops it after
 * (also when tests fail; process-exit handlers and a watchdog cover a dying test process).
 * Returns an accessor: call it inside tests/hooks, not at module load.
 */
export function useControlPlane(opts: ControlPlaneOptions = {}): () => ControlPlane {
  let cp: ControlPlane | undefined;
  beforeAll(async () => {
    cp = await startControlPlane({ crdDir: CRD_DIR, ...opts });
  });
  afterAll(async () => {
    await cp?.stop();
  });
  return () => {
    if (!cp) throw new Error('control plane not started: call the accessor inside a test or hook, after beforeAll');
    return cp;
  };
}

let namespaceCounter = 0;

/** Creates a fresh namespace (name `<prefix>-<random>`) and returns its name. */
export async function createNamespace(kc: KubeConfig, prefix = 'test'): Promise<string> {
  const name = `${prefix}-${process.pid.toString(36)}-${(namespaceCounter++).toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns something other than undefined/false/null and returns that value.
 * On timeout the error names what was awaited and the last value or error the probe produced.
 */
export async function waitFor<T>(description: string, probe: () => Promise<T | undefined | false | null> | T | undefined | false | null, opts: WaitOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 100;
  const started = Date.now();
  let last: string;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false && value !== null) return value;
      last = `last result: ${String(value)}`;
    } catch (err) {
      last = `last error: ${(err as Error).message}`;
    }
    if (Date.now() - started >= timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description} (${last})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** True while `pid` is a live (non-zombie) process. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The message the API server returned with a rejected request (client-node ApiException body). */
export function apiErrorMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      return parsed.message ?? body;
    } catch {
      return body;
    }
  }
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  return err instanceof Error ? err.message : String(err);
}

export type { ControlPlane } from '../../src/envtest/control-plane.ts';
