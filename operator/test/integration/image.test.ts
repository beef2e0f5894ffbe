// The container image without a Docker engine: the Dockerfile's own steps (compile with
// tsconfig.build.json, production dependencies only, the same /app layout), then its ENTRYPOINT argv run
// as the image's USER (65532) from a directory that user cannot write, with the chart's env. The
// operator must serve /healthz and /readyz and do its first-start work against the real API server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/envtest/ports.ts';
import { useControlPlane, waitFor } from '../envtest/index.ts';
import { REPO_ROOT } from '../support/operator.ts';

const controlPlane = useControlPlane();
const DOCKERFILE = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const IMAGE_USER = 65532;
const OPERATOR_NS = 'image-test';

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
}

/** Every file under dir with its size and mtime, to prove the process wrote nothing there. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = statSync(p);
        out.set(relative(dir, p), `${s.size}:${s.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out;
}

describe('container image (Dockerfile steps without Docker)', () => {
  let work: string;
  let app: string;
  let proc: ChildProcess | undefined;
  let output = '';

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'cai-image-'));
    chmodSync(work, 0o755);
    app = join(work, 'app');
    mkdirSync(app);
    // Build stage: `npx tsc -p tsconfig.build.json` over operator/src (the shared dev dependencies stand in
    // for the stage's `npm ci`), then `npm prune --omit=dev` = a production-only install of the lock file.
    run(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], REPO_ROOT);
    cpSync(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
    cpSync(join(REPO_ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
    const npm = join(process.execPath, '..', 'npm');
    run(existsSync(npm) ? npm : 'npm', ['ci', '--omit=dev', '--no-fund', '--no-audit', '--prefer-offline', '--loglevel=error'], app);
    rmSync(join(app, 'package-lock.json'));
    cpSync(join(REPO_ROOT, 'crds'), join(app, 'crds'), { recursive: true });
  }, 300_000);
  afterAll(async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      await new Promise<void>((resolve) => {
        proc?.once('exit', () => resolve());
        proc?.kill('SIGTERM');
      });
    }
    spawnSync('chmod', ['-R', 'u+w', work]);
    rmSync(work, { recursive: true, force: true });
  });

  it('the Dockerfile builds what this test builds: tsconfig.build.json, production dependencies only, USER 65532', () => {
    expect(DOCKERFILE).toMatch(/^RUN npx tsc -p tsconfig\.build\.json && npm prune --omit=dev$/m);
    expect(DOCKERFILE).toMatch(/^USER 65532:65532$/m);
    expect(DOCKERFILE).toMatch(/^COPY --from=build --chown=root:root \/src\/node_modules \.\/node_modules$/m);
    // No dev-only package made it in (the build tools are absent; a devDependency that a runtime package
    // also needs, like @types/node for @kubernetes/client-node, is a production package); the runtime ones did.
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    for (const tool of ['typescript', 'vitest', 'eslint']) {
      expect(pkg.devDependencies[tool], tool).toBeDefined();
      expect(existsSync(join(app, 'node_modules', tool)), tool).toBe(false);
    }
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    expect(Object.entries(installed.packages).filter(([, p]) => p.dev).map(([name]) => name)).toEqual([]);
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(app, 'node_modules', dep)), dep).toBe(true);
    expect(existsSync(join(app, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(readdirSync(join(app, 'dist'), { recursive: true }).some((f) => String(f).endsWith('.test.js'))).toBe(false);
  });

  it('the ENTRYPOINT runs as 65532 from a read-only /app and serves /healthz and /readyz against the API server', async () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(DOCKERFILE)?.[1] ?? '[]') as string[];
    expect(entrypoint[0]).toBe('node');
    const env = Object.fromEntries([...DOCKERFILE.matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    // The kubeconfig mounted into the pod stands in for the ServiceAccount token; readable by the image user.
    const kubeconfig = join(work, 'kubeconfig');
    writeFileSync(kubeconfig, readFileSync(controlPlane().kubeconfigPath), { mode: 0o644 });
    const scratch = join(work, 'tmp'); // the chart's emptyDir /tmp
    mkdirSync(scratch);
    chmodSync(scratch, 0o1777);
    // The base image's node: a copy outside this user's home, which the image user could not enter.
    const node = join(work, 'node');
    try {
      linkSync(process.execPath, node);
    } catch {
      copyFileSync(process.execPath, node);
    }
    chmodSync(node, 0o755);
    // As root (CI containers) the process runs as the image's UID; otherwise /app is made read-only for us.
    const asImageUser = process.getuid?.() === 0;
    if (!asImageUser) spawnSync('chmod', ['-R', 'a-w', app]);
    const before = snapshot(app);
    const port = await freePort();
    proc = spawn(node, [...entrypoint.slice(1), '--kubeconfig', kubeconfig, '--providers', 'local', '--http-host', '127.0.0.1', '--http-port', String(port), '--kbs-host', '127.0.0.1', '--kbs-port', '0', '--leader-elect', 'false', '--operator-namespace', OPERATOR_NS], {
      cwd: app,
      ...(asImageUser ? { uid: IMAGE_USER, gid: IMAGE_USER } : {}),
      env: { ...env, PATH: process.env.PATH ?? '', HOME: '/nonexistent', TMPDIR: scratch },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
    if (asImageUser) expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(IMAGE_USER));

    const probe = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined);
      return res?.status === 200 ? await res.text() : undefined;
    };
    await waitFor('/readyz ok', () => probe('/readyz'), { timeoutMs: 120_000, intervalMs: 500 }).catch((err: unknown) => {
      throw new Error(`${String(err)}\noperator output:\n${output.slice(-4000)}`, { cause: err });
    });
    expect(await probe('/healthz')).toMatch(/ok/);
    expect(await probe('/metrics')).toMatch(/controller_runtime_/);
    const cm = await controlPlane().kubeConfig().makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: OPERATOR_NS });
    expect(cm.data?.['cert.pem']).toMatch(/BEGIN CERTIFICATE/);
    expect(snapshot(app)).toEqual(before);
    expect(proc.exitCode).toBeNull();
  }, 180_000);
});
