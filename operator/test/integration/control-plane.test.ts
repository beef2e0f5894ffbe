// The test control plane itself: it starts, serves, survives API server and etcd restarts with its data,
// installs CRDs, and leaves no process or file behind however its owner ends.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ControlPlaneError, startControlPlane } from '../../src/envtest/control-plane.ts';
import { CRD_DIR, createNamespace, processAlive, waitFor } from '../envtest/index.ts';

const HOLDER = join(import.meta.dirname, '..', 'envtest', 'hold-control-plane.ts');

describe('control plane', () => {
  it('starts, serves, restarts the API server and etcd with their data intact, and stops without leftovers', async () => {
    const cp = await startControlPlane({ crdDir: CRD_DIR });
    const { etcd, apiServer, watchdog } = cp.pids();
    try {
      expect(cp.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(existsSync(cp.kubeconfigPath)).toBe(true);
      const core = cp.kubeConfig().makeApiClient(CoreV1Api);
      const ns = await createNamespace(cp.kubeConfig(), 'smoke');
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'before' }, data: { k: 'v' } } });

      // The CRDs from crds/ are installed and served.
      const crds = await cp.kubeConfig().makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
      expect(crds.items.map((c) => c.metadata?.name).sort()).toEqual([
        'attestationpolicies.confidential-agent.io',
        'confidentialagents.confidential-agent.io',
        'sealedcredentials.confidential-agent.io',
      ]);
      await cp.kubeConfig().makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
        group: 'confidential-agent.io', version: 'v1alpha1', namespace: ns, plural: 'confidentialagents',
      });

      await cp.stopApiServer();
      expect(cp.pids().apiServer).toBeUndefined();
      expect(processAlive(apiServer ?? -1)).toBe(false);
      await expect(core.readNamespace({ name: ns })).rejects.toThrow();

      await cp.startApiServer();
      const restarted = cp.pids().apiServer;
      expect(restarted).toBeDefined();
      expect(restarted).not.toBe(apiServer);
      // same endpoint, same credentials, same etcd: old data is there and writes work
      const before = await core.readNamespacedConfigMap({ namespace: ns, name: 'before' });
      expect(before.data).toEqual({ k: 'v' });
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'after' } } });

      // a crash (SIGKILL) instead of a graceful stop loses nothing either
      await cp.stopApiServer({ signal: 'SIGKILL' });
      expect(processAlive(restarted ?? -1)).toBe(false);
      await cp.startApiServer();
      expect((await core.readNamespacedConfigMap({ namespace: ns, name: 'after' })).metadata?.name).toBe('after');

      // etcd restarted under a running API server (crash, then graceful): same data, writes work again
      for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
        const etcdBefore = cp.pids().etcd;
        await cp.stopEtcd({ signal });
        expect(cp.pids().etcd).toBeUndefined();
        expect(processAlive(etcdBefore ?? -1)).toBe(false);
        await cp.startEtcd();
        expect(cp.pids().etcd).not.toBe(etcdBefore);
        const name = `after-etcd-${signal.toLowerCase()}`;
        await waitFor('writes through the restarted etcd', async () => {
          try {
            await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name } } });
            return true;
          } catch {
            return undefined;
          }
        }, { timeoutMs: 30_000 });
        expect((await core.readNamespacedConfigMap({ namespace: ns, name: 'before' })).data).toEqual({ k: 'v' });
      }
    } finally {
      await cp.stop();
    }
    await cp.stop(); // idempotent
    for (const pid of [etcd, cp.pids().apiServer, apiServer]) expect(processAlive(pid ?? -1)).toBe(false);
    await waitFor('the watchdog to exit', () => !processAlive(watchdog ?? -1), { timeoutMs: 5_000 });
    expect(existsSync(cp.workDir)).toBe(false);
  });

  // The owner dies without stop(): SIGKILL (only the watchdog can help), an unhandled SIGTERM (the
  // signal handler kills the children, then the process dies of the signal) and a plain process.exit
  // (the exit handler kills the children synchronously).
  it.each(['SIGKILL', 'SIGTERM', 'exit'] as const)('tears down when the owning process ends without stop() (%s)', async (mode) => {
    const child = spawn(process.execPath, [HOLDER, mode === 'exit' ? 'exit' : 'hang'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`holder exited with ${code} before reporting`)));
    });
    const info = JSON.parse(first) as { etcd: number; apiServer: number; watchdog: number; workDir: string };
    expect(processAlive(info.etcd) || mode === 'exit').toBe(true);
    if (mode !== 'exit') child.kill(mode);
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
    expect(mode === 'exit' ? child.exitCode : child.signalCode).toBe(mode === 'exit' ? 0 : mode);
    await waitFor('etcd and kube-apiserver to be killed', () => !processAlive(info.etcd) && !processAlive(info.apiServer), { timeoutMs: 10_000 });
    await waitFor('the work directory to be removed', () => !existsSync(info.workDir), { timeoutMs: 10_000 });
    await waitFor('the watchdog to exit', () => !processAlive(info.watchdog), { timeoutMs: 5_000 });
  });

  it('reports missing binaries with the fix', async () => {
    const err = await startControlPlane({ assetsDir: '/nonexistent/assets' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlPlaneError);
    expect((err as ControlPlaneError).code).toBe('AssetsMissing');
    expect((err as Error).message).toContain('make envtest');
  });

  it('fails with the API server rejection when a CRD is invalid, and cleans up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-crd-'));
    const workDir = join(dir, 'work');
    try {
      writeFileSync(join(dir, 'bad.yaml'), [
        'apiVersion: apiextensions.k8s.io/v1',
        'kind: CustomResourceDefinition',
        'metadata: { name: widgets.example.com }',
        'spec:',
        '  group: example.com',
        '  scope: Namespaced',
        '  names: { plural: widgets, singular: widget, kind: Widget }',
        '  versions:',
        '  - name: v1',
        '    served: true',
        '    storage: true',
        '    schema: { openAPIV3Schema: { type: object, properties: { spec: { type: object, properties: { size: { description: no type } } } } } }',
      ].join('\n'));
      const err = await startControlPlane({ crdDir: dir, workDir }).catch((e: unknown) => e);
      expect((err as ControlPlaneError).code).toBe('CrdRejected');
      expect((err as Error).message).toMatch(/widgets\.example\.com.*properties\[size\]\.type: Required value/s);
      expect(existsSync(workDir)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
