// A real, throw-away Kubernetes control plane (etcd + kube-apiserver) for integration tests and
// `make dev`, started the way controller-runtime's envtest does it: free loopback ports, generated
// certificates, an admin client certificate (O=system:masters), a kubeconfig, CRDs installed and
// Established. Teardown is guaranteed three ways: stop(), process exit/signal handlers, and a detached
// watchdog that kills the children when the owning process disappears (SIGKILL included).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { resolveAssets, type ControlPlaneAssets } from './assets.ts';
import { generateControlPlaneCerts } from './certs.ts';
import { registerTeardown } from './cleanup.ts';
import { installCrds, readCrdFiles } from './install-crds.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import { freePort } from './ports.ts';
import { ControlPlaneError, startProcess, type ManagedProcess } from './process.ts';
import { waitForEtcd, waitForReadyz } from './readiness.ts';
import { killListed, PID_FILE } from './watchdog.ts';

export { ControlPlaneError } from './process.ts';
export type { ControlPlaneAssets } from './assets.ts';

export interface ControlPlaneOptions {
  /** Directory with kube-apiserver, etcd (and kubectl); default $KUBEBUILDER_ASSETS, then ~/.cache/cai-operator/envtest. */
  assetsDir?: string;
  /** Install every CRD in this directory's *.yaml files and wait until they are Established and served. */
  crdDir?: string;
  /** Where certificates, etcd data, logs and the kubeconfig go; default a fresh temp dir. Removed by stop(). */
  workDir?: string;
  logger?: Logger;
  /** Extra kube-apiserver flags, appended after the defaults (a later flag wins). */
  apiServerArgs?: string[];
  /** Startup budget per component (ms); default $KUBEBUILDER_CONTROLPLANE_START_TIMEOUT (e.g. "60s") or 90 s. */
  startTimeoutMs?: number;
  /**
   * Opt-in API server audit log (for tests that check which requests a client made): the audit policy
   * (YAML text of an audit.k8s.io/v1 Policy) is written to workDir and the log goes to
   * ControlPlane.auditLogPath as JSON lines. Off by default.
   */
  auditPolicy?: string;
}

export interface ControlPlane {
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  readonly server: string;
  readonly etcdUrl: string;
  readonly workDir: string;
  /** The audit log (JSON lines) when `auditPolicy` was given. */
  readonly auditLogPath?: string;
  readonly assets: ControlPlaneAssets;
  /** How long startControlPlane took, CRD installation included (ms). */
  readonly startedInMs: number;
  /** A fresh @kubernetes/client-node KubeConfig for the admin user. */
  kubeConfig(): KubeConfig;
  /** Pids of the running children (undefined when that child is not running). */
  pids(): { etcd: number | undefined; apiServer: number | undefined; watchdog: number | undefined };
  /**
   * Stop only kube-apiserver (etcd keeps the data), for "API server restarted" tests. Graceful
   * (SIGTERM: clients see watches end and connections close) unless `signal: 'SIGKILL'` asks for a crash.
   */
  stopApiServer(opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /** Start kube-apiserver again on the same port with the same certificates and etcd. */
  startApiServer(): Promise<void>;
  /**
   * Stop only etcd (its data directory stays; kube-apiserver keeps running and fails its requests),
   * for "etcd restarted" tests. SIGTERM unless `signal: 'SIGKILL'` asks for a crash.
   */
  stopEtcd(opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /** Start etcd again on the same port with the same data directory. */
  startEtcd(): Promise<void>;
  /** Kill everything and remove workDir. Idempotent. */
  stop(): Promise<void>;
}

// Sibling module run as its own process (.ts from source, .js from a compiled build).
const WATCHDOG = join(import.meta.dirname, `watchdog${extname(import.meta.filename)}`);

function defaultStartTimeout(): number {
  const raw = process.env['KUBEBUILDER_CONTROLPLANE_START_TIMEOUT'];
  const match = raw?.match(/^(\d+)(ms|s|m)?$/);
  if (!match) return 90_000;
  const n = Number(match[1]);
  return match[2] === 'ms' ? n : match[2] === 'm' ? n * 60_000 : n * 1_000;
}

const addressInUse = (proc: ManagedProcess) => /address already in use/i.test(proc.tail(50));

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const began = performance.now();
  const log = opts.logger ?? pino({ level: 'silent' });
  const assets = resolveAssets(opts.assetsDir);
  const crds = opts.crdDir ? readCrdFiles(opts.crdDir) : [];
  const startTimeout = opts.startTimeoutMs ?? defaultStartTimeout();
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), 'cai-control-plane-'));
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const file = (name: string, content: string, mode = 0o600) => {
    const path = join(workDir, name);
    writeFileSync(path, content, { mode });
    return path;
  };

  let etcd: ManagedProcess | undefined;
  let apiServer: ManagedProcess | undefined;
  let watchdog: number | undefined;
  let stopped = false;
  const writePids = () =>
    file(PID_FILE, [etcd, apiServer].filter((p) => p?.isRunning()).map((p) => `${p?.pid}\t${p?.binary}`).join('\n') + '\n');

  const killAllNow = () => {
    apiServer?.killNow();
    etcd?.killNow();
    killListed(workDir);
    if (watchdog !== undefined) {
      try {
        process.kill(watchdog, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(workDir, { recursive: true, force: true });
  };
  const unregister = registerTeardown(killAllNow);

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await apiServer?.stop(5_000);
    await etcd?.stop(5_000);
    killAllNow();
    unregister();
    log.info({ workDir }, 'control plane stopped');
  };

  try {
    const certs = await generateControlPlaneCerts();
    const caPath = file('ca.crt', certs.ca.certPem);
    const servingCert = file('apiserver.crt', certs.serving.certPem);
    const servingKey = file('apiserver.key', certs.serving.keyPem);
    const saKey = file('sa.key', certs.serviceAccount.keyPem);
    const saPub = file('sa.pub', certs.serviceAccount.publicKeyPem);
    const audit = opts.auditPolicy === undefined ? undefined : { policy: file('audit-policy.yaml', opts.auditPolicy), log: join(workDir, 'audit.log') };
    file('admin.crt', certs.admin.certPem);
    file('admin.key', certs.admin.keyPem);
    writePids();

    const wd = spawn(process.execPath, [WATCHDOG, String(process.pid), workDir], { detached: true, stdio: 'ignore' });
    wd.unref();
    watchdog = wd.pid;

    const launchEtcd = (url: string) => {
      const proc = startProcess('etcd', assets.etcd, [
        `--data-dir=${join(workDir, 'etcd')}`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        '--listen-peer-urls=http://127.0.0.1:0',
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ], join(workDir, 'etcd.log'));
      etcd = proc;
      writePids();
      return proc;
    };
    // etcd, on a fresh port per attempt (another process may grab a port between probe and bind)
    let etcdUrl = '';
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      etcdUrl = `http://127.0.0.1:${port}`;
      etcd = launchEtcd(etcdUrl);
      try {
        await waitForEtcd(etcdUrl, etcd, startTimeout);
        break;
      } catch (err) {
        if (attempt >= 3 || !addressInUse(etcd)) throw err;
        await etcd.stop(1_000);
      }
    }
    log.debug({ etcdUrl, ms: Math.round(performance.now() - began) }, 'etcd healthy');

    const tls = { ca: certs.ca.certPem, cert: certs.admin.certPem, key: certs.admin.keyPem };
    let server = '';
    let apiArgs: string[] = [];
    const launchApiServer = () => {
      apiServer = startProcess('kube-apiserver', assets.kubeApiServer, apiArgs, join(workDir, 'kube-apiserver.log'));
      writePids();
      return apiServer;
    };
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      server = `https://127.0.0.1:${port}`;
      // Same flags as controller-runtime envtest (pkg/internal/testing/controlplane/apiserver.go),
      // plus a loopback advertise address and no endpoint reconciler (no node network here).
      apiArgs = [
        `--etcd-servers=${etcdUrl}`,
        `--secure-port=${port}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        '--endpoint-reconciler-type=none',
        `--cert-dir=${join(workDir, 'apiserver-certs')}`,
        `--tls-cert-file=${servingCert}`,
        `--tls-private-key-file=${servingKey}`,
        `--client-ca-file=${caPath}`,
        '--authorization-mode=RBAC',
        '--allow-privileged=true',
        '--disable-admission-plugins=ServiceAccount',
        // As hardened clusters run it: setting blockOwnerDeletion needs update on the owner's /finalizers.
        '--enable-admission-plugins=OwnerReferencesPermissionEnforcement',
        '--service-cluster-ip-range=10.0.0.0/24',
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        '--profiling=false',
        ...(audit ? [`--audit-policy-file=${audit.policy}`, `--audit-log-path=${audit.log}`, '--audit-log-format=json', '--audit-log-mode=blocking'] : []),
        ...(opts.apiServerArgs ?? []),
      ];
      const proc = launchApiServer();
      try {
        await waitForReadyz(server, tls, proc, startTimeout);
        break;
      } catch (err) {
        if (attempt >= 3 || !addressInUse(proc)) throw err;
        await proc.stop(1_000);
      }
    }
    log.debug({ server, ms: Math.round(performance.now() - began) }, 'kube-apiserver ready');

    const kubeconfigText = renderKubeconfig({ server, caPem: certs.ca.certPem, clientCertPem: certs.admin.certPem, clientKeyPem: certs.admin.keyPem });
    const kubeconfigPath = file('kubeconfig', kubeconfigText);
    const kubeConfig = () => {
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfigText);
      return kc;
    };

    if (crds.length > 0) {
      await installCrds(kubeConfig(), crds, startTimeout);
      log.debug({ crds: crds.map((c) => c.metadata?.name), ms: Math.round(performance.now() - began) }, 'CRDs established');
    }
    const startedInMs = Math.round(performance.now() - began);
    log.info({ server, kubeconfigPath, ms: startedInMs }, 'control plane ready');

    return {
      kubeconfigPath,
      server,
      etcdUrl,
      workDir,
      ...(audit ? { auditLogPath: audit.log } : {}),
      assets,
      startedInMs,
      kubeConfig,
      pids: () => ({
        etcd: etcd?.isRunning() ? etcd.pid : undefined,
        apiServer: apiServer?.isRunning() ? apiServer.pid : undefined,
        watchdog,
      }),
      async stopApiServer(stopOpts) {
        await apiServer?.stop(stopOpts?.signal === 'SIGKILL' ? 0 : 10_000);
        writePids();
      },
      async stopEtcd(stopOpts) {
        await etcd?.stop(stopOpts?.signal === 'SIGKILL' ? 0 : 10_000);
        writePids();
      },
      async startEtcd() {
        if (stopped) throw new ControlPlaneError('Stopped', 'control plane already stopped');
        if (etcd?.isRunning()) return;
        const t0 = performance.now();
        await waitForEtcd(etcdUrl, launchEtcd(etcdUrl), startTimeout);
        log.info({ etcdUrl, ms: Math.round(performance.now() - t0) }, 'etcd restarted');
      },
      async startApiServer() {
        if (stopped) throw new ControlPlaneError('Stopped', 'control plane already stopped');
        if (apiServer?.isRunning()) return;
        const t0 = performance.now();
        await waitForReadyz(server, tls, launchApiServer(), startTimeout);
        log.info({ server, ms: Math.round(performance.now() - t0) }, 'kube-apiserver restarted');
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
