// `cai connect AGENT` (also `kubectl cai connect`): a local TNG client for a user outside the cluster.
// It listens on 127.0.0.1 only (never 0.0.0.0: the plaintext side of the tunnel stays on this machine),
// tunnels to the agent's instance through RATS-TLS (or OHTTP, as the agent's endpoint says), and verifies
// the instance per connection against the operator's attestation service under the agent's policy id —
// the strict replacement for the seed's `make connect-tng` (Docker, permissive Trustee, 0.0.0.0).
// The AS is reached directly (--as-url) or through a port-forward to the AS Service's Pod via the API
// server (client-node PortForward; the credential never reaches TNG's command line). Before printing the
// URL it sends one probe through the tunnel and refuses (exit 1, with TNG's reason) if the AS refuses.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, KubeConfig, PortForward } from '@kubernetes/client-node';
import { AGENTS } from '../../controllers/resources.ts';
import type { ConfidentialAgent } from '../../api/confidential-agent.ts';
import { CA_KEY, CONFIG_KEY, gatewayNames } from '../../controllers/agent/endpoint.ts';
import { parseTngConfig, renderIngress, TngConfigError } from '../../protocol/tng-config.ts';
import { findTngBinary, runTng } from '../../sim/local/tng-process.ts';
import type { CliCommand, CliIO } from '../command.ts';

const USAGE = `Usage: cai connect AGENT [-n NAMESPACE] [--port N] [--as-url URL] [--as-ca FILE] [--upstream HOST:PORT]
                   [--operator-namespace NS] [--as-service NAME] [--kubeconfig FILE] [--tng-bin FILE] [--once]
  Runs a local TNG client on 127.0.0.1:<port> (default: the agent's endpoint port) that verifies the agent's
  instance against the operator attestation service on every connection, prints the URL and what was attested.
  --as-url URL        the AS as this machine reaches it (default: port-forward to the AS Service through the API server)
  --as-ca FILE        PEM of the AS CA to pin (default: the one in the agent's gateway ConfigMap)
  --upstream H:P      the instance's TNG egress as this machine reaches it (default: the gateway's upstream)
  --once              probe once, print, and exit (0 = attested, 1 = refused)`;

export const command: CliCommand = {
  path: ['connect'],
  summary: "a local, attested TNG tunnel to an agent's endpoint (127.0.0.1 only)",
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const opts = {
      namespace: { type: 'string', short: 'n' },
      port: { type: 'string' },
      'as-url': { type: 'string' },
      'as-ca': { type: 'string' },
      upstream: { type: 'string' },
      'operator-namespace': { type: 'string' },
      'as-service': { type: 'string' },
      kubeconfig: { type: 'string' },
      'tng-bin': { type: 'string' },
      once: { type: 'boolean' },
    } as const;
    let values: { [K in keyof typeof opts]?: (typeof opts)[K]['type'] extends 'boolean' ? boolean : string };
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({ args, options: opts, strict: true, allowPositionals: true }));
    } catch (err) {
      io.stderr(`cai connect: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
      return 2;
    }
    const fail = (msg: string, code = 1) => {
      io.stderr(`cai connect: ${msg}\n`);
      return code;
    };
    if (positionals.length !== 1) return fail(`expected exactly one AGENT\n\n${USAGE}`, 2);
    const name = positionals[0]!;
    const kc = new KubeConfig();
    const file = values.kubeconfig ?? io.env.KUBECONFIG;
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
    const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    const core = kc.makeApiClient(CoreV1Api);

    const agent = await readAgent(kc, namespace, name).catch(() => undefined);
    if (!agent) return fail(`ConfidentialAgent ${namespace}/${name} not found`);
    const endpoint = agent.status?.endpoint;
    const ready = agent.status?.conditions?.find((c) => c.type === 'EndpointReady');
    if (!endpoint || ready?.status !== 'True') return fail(`${namespace}/${name} has no serving endpoint (EndpointReady: ${ready?.reason ?? 'unknown'}: ${ready?.message ?? ''})`);
    const cm = await core.readNamespacedConfigMap({ namespace, name: gatewayNames(name).configMap }).catch(() => undefined);
    let gateway;
    try {
      gateway = parseTngConfig(cm?.data?.[CONFIG_KEY] ?? '');
    } catch (err) {
      return fail(`the gateway config of ${namespace}/${name} is unusable: ${(err as Error).message}`);
    }
    const rule = gateway.add_ingress?.[0]?.mapping.rules[0];
    if (!rule) return fail('the gateway config has no ingress rule');
    const upstream = values.upstream ? parseHostPort(values.upstream) : rule.out;
    if (!upstream) return fail(`--upstream must be HOST:PORT, got '${values.upstream ?? ''}'`, 2);
    const port = values.port !== undefined ? Number(values.port) : endpoint.port;
    if (!Number.isInteger(port) || port < 1 || port > 65535) return fail(`--port must be 1..65535, got '${values.port ?? ''}'`, 2);
    const tng = values['tng-bin'] ?? findTngBinary(io.env);
    if (!tng) return fail('TNG 2.12.0 is not installed: run `make tng` (hack/tng/install.sh) or pass --tng-bin');

    const dir = mkdtempSync(join(tmpdir(), 'cai-connect-'));
    const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
    try {
      let caPem = cm?.data?.[CA_KEY];
      if (values['as-ca']) caPem = (await import('node:fs')).readFileSync(values['as-ca'], 'utf8');
      const caPath = join(dir, 'as-ca.pem');
      if (caPem) {
        writeFileSync(caPath, caPem, { mode: 0o600 });
        chmodSync(caPath, 0o600);
      }
      let asUrl = values['as-url'];
      if (!asUrl) {
        const fwd = await portForwardToService(kc, values['operator-namespace'] ?? io.env.POD_NAMESPACE ?? 'confidential-agent-system', values['as-service'] ?? 'confidential-agent-operator-as', 8082);
        cleanups.push(() => fwd.close());
        // The AS serving certificate names the Service; over the forward, TNG reaches it as localhost.
        asUrl = `https://localhost:${fwd.port}`;
      }
      let config: string;
      try {
        config = renderIngress({ listen: { host: '127.0.0.1', port }, upstream, asUrl, policyId: endpoint.policyId, mode: endpoint.mode === 'ohttp' ? 'ohttp' : 'rats-tls', ...(caPem ? { asCaPath: caPath } : {}) });
      } catch (err) {
        if (err instanceof TngConfigError) return fail(err.message, 2);
        throw err;
      }
      const proc = runTng(tng, config, caPem ? { env: { SSL_CERT_FILE: caPath } } : {});
      cleanups.push(() => proc.stop());
      await proc.waitFor(/All services are ready/, 30_000);
      const probe = await probeTunnel(port, endpoint.protocol === 'HTTP');
      const verdict = await proc.waitFor(/attested=true|EarStatusNotAffirming|status_code: \d+|Failed to [^\n]{0,200}/, 10_000).catch(() => 'no verdict');
      if (!verdict.startsWith('attested=true')) {
        return fail(`refused: the attestation service did not admit ${namespace}/${name}'s instance under ${endpoint.policyId} (${verdict}${probe ? `; probe: ${probe}` : ''})`);
      }
      const att = agent.status?.attestation;
      io.stdout(
        [
          `${endpoint.protocol === 'HTTP' ? 'http' : 'tcp'}://127.0.0.1:${port}  →  ${namespace}/${name} (instance ${endpoint.instanceId ?? '?'})`,
          `  verified per connection by the operator attestation service under policy ${endpoint.policyId} (${endpoint.mode})`,
          `  this connection: attested=true (TNG)`,
          ...(att ? [`  operator's last appraisal: ${att.teeType} evidence ${att.status} at ${att.verifiedAt}`] : []),
          ...(att?.teeType === 'sample' ? ['  WARNING: sample TEE (no hardware protection; development policy)'] : []),
        ].join('\n') + '\n',
      );
      if (values.once) return 0;
      io.stderr('tunnel open; Ctrl-C to close\n');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
        proc.child.once('exit', resolve);
      });
      return 0;
    } finally {
      for (const c of cleanups.reverse()) await c();
    }
  },
};

async function readAgent(kc: KubeConfig, namespace: string, name: string): Promise<ConfidentialAgent> {
  const { CustomObjectsApi } = await import('@kubernetes/client-node');
  return (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: AGENTS.group, version: AGENTS.version, namespace, plural: AGENTS.plural, name })) as ConfidentialAgent;
}

function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^([A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!, port } : undefined;
}

/** One request (HTTP: GET /health) through the tunnel; returns a short problem description, or '' on success. */
async function probeTunnel(port: number, http: boolean): Promise<string> {
  try {
    if (http) {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(15_000) });
      await res.body?.cancel();
      return res.ok ? '' : `HTTP ${res.status}`;
    }
    const { connect } = await import('node:net');
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => {
        s.end();
        resolve();
      });
      s.once('error', reject);
    });
    return '';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** A loopback listener forwarding each connection to a ready Pod behind `service` (API server port-forward). */
async function portForwardToService(kc: KubeConfig, namespace: string, service: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const core = kc.makeApiClient(CoreV1Api);
  const svc = await core.readNamespacedService({ namespace, name: service });
  const selector = Object.entries(svc.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  if (!selector) throw new Error(`Service ${namespace}/${service} has no selector`);
  const pods = await core.listNamespacedPod({ namespace, labelSelector: selector });
  const pod = pods.items.find((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  if (!pod?.metadata?.name) throw new Error(`no ready Pod behind Service ${namespace}/${service}`);
  const forward = new PortForward(kc);
  const server: Server = createServer((socket) => {
    forward.portForward(namespace, pod.metadata!.name!, [port], socket, null, socket).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
