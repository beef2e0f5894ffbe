// What the admin commands (`cai sealing-key`, `cai attestation-service`, `cai kbs rotate-session-keys`) share:
// --kubeconfig/--namespace (plus their own options) parsed strictly, a usage error as exit code 2, and the
// CoreV1Api of the caller's credentials on the operator namespace.
import { parseArgs } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { CliIO } from './command.ts';

export interface AdminArgs {
  values: { kubeconfig?: string; namespace?: string; [option: string]: string | undefined };
  positionals: string[];
}

/** Parses `args`; on a usage error prints it with `usage` and returns undefined (the command exits 2). */
export function parseAdminArgs(name: string, usage: string, args: string[], io: CliIO, opts: { options?: string[]; positionals?: boolean } = {}): AdminArgs | undefined {
  const options = Object.fromEntries(['kubeconfig', 'namespace', ...(opts.options ?? [])].map((o) => [o, { type: 'string' as const }]));
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: opts.positionals ?? true }) as AdminArgs;
  } catch (err) {
    io.stderr(`cai ${name}: ${err instanceof Error ? err.message : String(err)}\n\n${usage}\n`);
    return undefined;
  }
}

/** The caller's (admin) client and the operator namespace (--namespace, $POD_NAMESPACE, or the chart's default). */
export function operatorNamespaceClient(values: AdminArgs['values'], env: CliIO['env']): { core: CoreV1Api; namespace: string } {
  const kc = new KubeConfig();
  const file = values.kubeconfig ?? env.KUBECONFIG;
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return { core: kc.makeApiClient(CoreV1Api), namespace: values.namespace ?? env.POD_NAMESPACE ?? 'confidential-agent-system' };
}
