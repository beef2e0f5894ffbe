// `cai dev` (`make dev`): a local control plane (real etcd + kube-apiserver), the operator with the
// `local` provider, and the example agent from examples/local, whose conditions are printed as they
// change. Keeps running (so kubectl can be pointed at it) until Ctrl-C, or exits once Ready with
// --exit-when-ready.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubernetesObjectApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { parseOperatorConfig } from '../../app/config.ts';
import { startOperator } from '../../app/operator.ts';
import { startControlPlane } from '../../envtest/control-plane.ts';
import { createLogger } from '../../runtime/logging.ts';
import type { CliCommand, CliIO } from '../command.ts';
import { prepareExampleCredentials } from '../dev-credentials.ts';

const REPO = join(import.meta.dirname, '..', '..', '..', '..');

export const command: CliCommand = {
  path: ['dev'],
  summary: 'local control plane + operator (local provider) + example agent',
  usage: `Usage: cai dev [--provider local|alibaba] [--example DIR] [--exit-when-ready] [--timeout SECONDS] [--log-level LEVEL]
  --provider P        local (default): simulated TEE guests; alibaba: the real ECS SDK against the local ECS API
                      simulator (instances have no guest, so they stop at Provisioned: attestation needs TDX hardware)
  --example DIR       directory of example manifests (default examples/local, examples/alibaba/simulator)
  --exit-when-ready   stop everything once the example agent is Ready (Provisioned for alibaba), exit 0; exit 1 on timeout
  --timeout SECONDS   how long to wait (default 300)`,
  async run(args, io) {
    let values: { provider?: string; example?: string; 'exit-when-ready'?: boolean; timeout?: string; 'log-level'?: string };
    try {
      values = parseArgs({
        args,
        options: { provider: { type: 'string' }, example: { type: 'string' }, 'exit-when-ready': { type: 'boolean' }, timeout: { type: 'string' }, 'log-level': { type: 'string' } },
        strict: true,
      }).values;
    } catch (err) {
      io.stderr(`cai dev: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }
    const timeoutMs = Number(values.timeout ?? '300') * 1000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      io.stderr('cai dev: --timeout must be a positive number of seconds\n');
      return 2;
    }
    const provider = values.provider ?? 'local';
    if (provider !== 'local' && provider !== 'alibaba') {
      io.stderr(`cai dev: --provider must be local or alibaba, got '${provider}'\n`);
      return 2;
    }
    const exampleDir = values.example ?? join(REPO, 'examples', ...(provider === 'alibaba' ? ['alibaba', 'simulator'] : ['local']));
    const goal = provider === 'alibaba' ? 'Provisioned' : 'Ready';
    const logger = createLogger({ level: values['log-level'] ?? 'warn', destination: process.stderr });
    io.stdout('starting control plane (etcd + kube-apiserver)...\n');
    const cp = await startControlPlane({ crdDir: join(REPO, 'crds') });
    let stopOperator: (() => Promise<void>) | undefined;
    let stopSimulator: (() => Promise<void>) | undefined;
    try {
      // The dev environment asks for the simulated provider explicitly (it is never on by default).
      const providerArgs: string[] = ['--providers', provider === 'alibaba' ? 'local,alibaba' : 'local'];
      if (provider === 'alibaba') {
        const { startEcsSimulator } = await import('../../sim/ecs/index.ts');
        const sim = await startEcsSimulator({});
        stopSimulator = () => sim.close();
        // The simulator ignores signatures: give the SDK's credential chain dev-only keys, never real ones.
        io.env.ALIBABA_CLOUD_ACCESS_KEY_ID = 'LTAIdevSimulatorOnly';
        io.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = 'dev-simulator-only-not-a-secret';
        providerArgs.push('--alibaba-endpoint', sim.endpoint, '--alibaba-protocol', 'http');
        io.stdout(`ECS API simulator at http://${sim.endpoint} (real @alicloud/ecs20140526 SDK, fake dev keys)\n`);
      }
      io.stdout(`control plane ready: ${cp.server}\n  export KUBECONFIG=${cp.kubeconfigPath}\n`);
      const kc = cp.kubeConfig();
      const config = parseOperatorConfig(['--http-host', '127.0.0.1', '--http-port', '0', '--kbs-host', '127.0.0.1', '--kbs-port', '0', '--as-bind-address', '127.0.0.1:0', ...providerArgs], io.env);
      const operator = await startOperator(config, { kubeConfig: kc, logger });
      stopOperator = () => operator.stop();
      const http = await operator.manager.httpAddress;
      io.stdout(`operator running (metrics: http://${http.host}:${http.port}/metrics)\n`);

      const objects = await loadExamples(exampleDir, kc, config.operatorNamespace, io);
      const api = KubernetesObjectApi.makeApiClient(kc);
      for (const namespace of new Set(objects.map((o) => o.metadata?.namespace ?? 'default'))) {
        await api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }).catch((err: unknown) => {
          if ((err as { code?: number }).code !== 409) throw err;
        });
      }
      for (const obj of objects) {
        try {
          await api.create(obj);
        } catch (err) {
          const body = (err as { body?: unknown }).body;
          const message = typeof body === 'string' ? ((JSON.parse(body) as { message?: string }).message ?? body) : String(err);
          io.stderr(`cai dev: the API server rejected ${obj.kind}/${obj.metadata?.name ?? ''}: ${message}\n`);
          return 1;
        }
        io.stdout(`applied ${obj.kind}/${obj.metadata?.name ?? ''}\n`);
      }
      const agent = objects.find((o) => o.kind === 'ConfidentialAgent');
      if (!agent) {
        io.stdout('no ConfidentialAgent in the example; nothing to watch\n');
        return 0;
      }
      const ready = await watchAgent(api, agent, goal, timeoutMs, io);
      if (values['exit-when-ready']) return ready ? 0 : 1;
      io.stdout('\nrunning; try: kubectl get cagent,attpol,sealedcred -A   (Ctrl-C to stop)\n');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      return 0;
    } finally {
      await stopOperator?.();
      await stopSimulator?.();
      await cp.stop();
    }
  },
};

async function loadExamples(dir: string, kc: KubeConfig, operatorNamespace: string, io: CliIO): Promise<KubernetesObject[]> {
  const files = ['attestation-policy.yaml', 'confidential-agent.yaml'].filter((f) => existsSync(join(dir, f)));
  const objects = files.flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJSON() as KubernetesObject));
  const credentials = await prepareExampleCredentials(dir, kc, operatorNamespace, io);
  // Policy and credentials first, then the agent that uses them.
  return [...objects.filter((o) => o.kind !== 'ConfidentialAgent'), ...credentials, ...objects.filter((o) => o.kind === 'ConfidentialAgent')];
}

async function watchAgent(api: KubernetesObjectApi, agent: KubernetesObject, goal: 'Ready' | 'Provisioned', timeoutMs: number, io: CliIO): Promise<boolean> {
  const seen = new Map<string, string>();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const current = (await api.read({ apiVersion: agent.apiVersion, kind: agent.kind, metadata: { name: agent.metadata?.name ?? '', namespace: agent.metadata?.namespace ?? 'default' } })) as KubernetesObject & {
      status?: {
        conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
        instance?: { id: string; address?: string };
        endpoint?: { serviceName: string; port: number; mode: string; policyId: string };
      };
    };
    for (const c of current.status?.conditions ?? []) {
      const line = `${c.status} ${c.reason}: ${c.message}`;
      if (seen.get(c.type) !== line) {
        seen.set(c.type, line);
        io.stdout(`  ${new Date().toISOString().slice(11, 19)}  ${c.type.padEnd(20)} ${line}\n`);
      }
    }
    if (current.status?.conditions?.some((c) => c.type === goal && c.status === 'True')) {
      io.stdout(`agent ${current.metadata?.name ?? ''} is ${goal} (instance ${current.status.instance?.id ?? '?'} at ${current.status.instance?.address ?? '?'})\n`);
      const ep = current.status.endpoint;
      if (ep) {
        io.stdout(
          `endpoint: Service ${ep.serviceName}:${ep.port} → TNG gateway (${ep.mode}, verified under ${ep.policyId}); this control plane has no kubelet, ` +
            `so the gateway Pod is not run here — from this machine: cai connect ${current.metadata?.name ?? ''} -n ${current.metadata?.namespace ?? 'default'}\n`,
        );
      }
      return true;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  io.stdout(`timed out before the agent became ${goal}\n`);
  return false;
}
