// `cai status [AGENT] [-n NS] [--json]` (also `kubectl cai status`): what the operator verified about an
// agent — conditions, instance, last appraisal (EAR status, trust vectors, TCB, measurements with the
// reference value they matched, GPUs and RIMs), credentials delivered, next re-attestation and the trust
// material that will affect it. Read from the API server (status written by the operator), not the guest.
import { parseArgs } from 'node:util';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { AttestationPolicy } from '../../api/attestation-policy.ts';
import { GROUP, VERSION } from '../../api/common.ts';
import type { ConfidentialAgent } from '../../api/confidential-agent.ts';
import type { CliCommand } from '../command.ts';
import { formatStatus, statusReport } from '../status-report.ts';

const USAGE = `Usage: cai status [AGENT] [-n NAMESPACE] [--json] [--kubeconfig FILE]

Shows what the operator verified about a ConfidentialAgent (all agents of the namespace without AGENT).
  -n, --namespace NS   namespace (default: the kubeconfig context's, else "default")
  --json               the same facts as JSON (an array without AGENT)
  --kubeconfig FILE    kubeconfig (default: $KUBECONFIG, then ~/.kube/config)`;

const DNS1123 = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export const command: CliCommand = {
  path: ['status'],
  summary: 'what the operator verified about an agent: conditions, appraisal, measurements, credentials, expiries',
  usage: USAGE,
  async run(args, io) {
    let parsed: { values: { namespace?: string; json?: boolean; kubeconfig?: string }; positionals: string[] };
    try {
      parsed = parseArgs({ args, options: { namespace: { type: 'string', short: 'n' }, json: { type: 'boolean' }, kubeconfig: { type: 'string' } }, strict: true, allowPositionals: true });
    } catch (err) {
      io.stderr(`cai status: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
      return 2;
    }
    const [name, ...extra] = parsed.positionals;
    if (extra.length > 0 || (name !== undefined && !DNS1123.test(name))) {
      io.stderr(`cai status: expected at most one agent name (a DNS-1123 name)\n\n${USAGE}\n`);
      return 2;
    }
    const kc = new KubeConfig();
    const file = parsed.values.kubeconfig ?? io.env.KUBECONFIG;
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
    const namespace = parsed.values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    const api = kc.makeApiClient(CustomObjectsApi);
    const get = <T>(plural: string, n: string) => api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name: n }) as Promise<T>;

    let agents: ConfidentialAgent[];
    try {
      agents = name
        ? [await get<ConfidentialAgent>('confidentialagents', name)]
        : ((await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'confidentialagents' })) as { items: ConfidentialAgent[] }).items;
    } catch (err) {
      const code = (err as { code?: number }).code;
      io.stderr(code === 404 ? `cai status: ConfidentialAgent ${namespace}/${name ?? ''} not found\n` : `cai status: cannot read ConfidentialAgents in ${namespace} (HTTP ${code ?? 'error'})\n`);
      return 1;
    }
    agents.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const policies = new Map<string, AttestationPolicy | undefined>();
    for (const a of agents) {
      const p = a.spec.attestationPolicyRef.name;
      if (!policies.has(p)) policies.set(p, await get<AttestationPolicy>('attestationpolicies', p).catch(() => undefined));
    }
    const reports = agents.map((a) => statusReport(a, policies.get(a.spec.attestationPolicyRef.name)));
    if (parsed.values.json) io.stdout(`${JSON.stringify(name ? reports[0] : reports, null, 2)}\n`);
    else if (reports.length === 0) io.stdout(`No ConfidentialAgents in ${namespace}.\n`);
    else io.stdout(reports.map((r) => formatStatus(r, new Date())).join('\n'));
    return 0;
  },
};
