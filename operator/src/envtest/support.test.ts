import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { resolveAssets } from './assets.ts';
import { readCrdFiles } from './install-crds.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import { ControlPlaneError } from './process.ts';
import { parsePidFile } from './watchdog.ts';

describe('parsePidFile', () => {
  it('reads pid/binary lines and ignores anything malformed', () => {
    expect(parsePidFile('12\t/bin/etcd\n13\t/bin/kube-apiserver\n')).toEqual([
      { pid: 12, binary: '/bin/etcd' },
      { pid: 13, binary: '/bin/kube-apiserver' },
    ]);
    // never pid 0/1 (process group / init), never without a binary to check against
    expect(parsePidFile('0\t/bin/etcd\n1\t/sbin/init\n-5\t/x\nabc\t/x\n14\n\n 15\t\n1.5\t/x')).toEqual([]);
  });
});

describe('renderKubeconfig', () => {
  it('is a self-contained kubeconfig client-node loads', () => {
    const text = renderKubeconfig({ server: 'https://127.0.0.1:6443', caPem: 'CA', clientCertPem: 'CERT', clientKeyPem: 'KEY' });
    const kc = new KubeConfig();
    kc.loadFromString(text);
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://127.0.0.1:6443', caData: Buffer.from('CA').toString('base64') });
    expect(kc.getCurrentUser()).toMatchObject({ certData: Buffer.from('CERT').toString('base64'), keyData: Buffer.from('KEY').toString('base64') });
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('default');
  });
});

describe('resolveAssets', () => {
  it('explains how to get the binaries when they are missing', () => {
    const err = (() => {
      try {
        resolveAssets(undefined, { KUBEBUILDER_ASSETS: '/nonexistent' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ControlPlaneError);
    expect((err as ControlPlaneError).code).toBe('AssetsMissing');
    expect((err as Error).message).toContain('/nonexistent/kube-apiserver, /nonexistent/etcd');
    expect((err as Error).message).toContain('make envtest');
  });

  it('prefers TEST_ASSET_* for single binaries, like envtest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'assets-'));
    try {
      for (const name of ['kube-apiserver', 'etcd', 'my-etcd']) writeFileSync(join(dir, name), '#!/bin/sh\n', { mode: 0o755 });
      const assets = resolveAssets(undefined, { KUBEBUILDER_ASSETS: dir, TEST_ASSET_ETCD: join(dir, 'my-etcd') });
      expect(assets).toEqual({ kubeApiServer: join(dir, 'kube-apiserver'), etcd: join(dir, 'my-etcd'), kubectl: undefined });
      // an explicit directory wins over the environment
      expect(resolveAssets(dir, { TEST_ASSET_ETCD: '/elsewhere/etcd' }).etcd).toBe(join(dir, 'etcd'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('readCrdFiles', () => {
  it('keeps CRDs only, and names the file when YAML is broken', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crds-'));
    try {
      writeFileSync(join(dir, 'a.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: ws.example.com}\nspec: {group: example.com}\n');
      writeFileSync(join(dir, 'notes.txt'), 'ignored');
      expect(readCrdFiles(dir).map((c) => c.metadata?.name)).toEqual(['ws.example.com']);
      writeFileSync(join(dir, 'b.yaml'), 'kind: [unclosed\n');
      expect(() => readCrdFiles(dir)).toThrow(/b\.yaml/);
      expect(() => readCrdFiles(join(dir, 'missing'))).toThrow(/cannot read CRD directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
