// `cai sealing-key rotate|cert`: rotate the operator's sealing key (old keys stay for opening what was
// sealed before; a running operator picks the new keyring up from its Secret), or print the current
// public certificate to seal with.
import { SEALING_CERT_CONFIGMAP, SealingKeyStore } from '../../release/sealing/store.ts';
import { operatorNamespaceClient, parseAdminArgs } from '../admin-command.ts';
import type { CliCommand, CliIO } from '../command.ts';

const USAGE = `Usage: cai sealing-key rotate|cert [--kubeconfig FILE] [--namespace NS]
  rotate   generate a new active sealing key; older keys keep opening existing SealedCredentials.
           Re-seal with the new certificate at your pace (cai seal --cert <(cai sealing-key cert)).
  cert     print the active public sealing certificate (PEM) to seal with
  --namespace NS   the operator namespace (default: $POD_NAMESPACE or confidential-agent-system)`;

export const command: CliCommand = {
  path: ['sealing-key'],
  summary: "rotate the operator's sealing key, or print its public certificate",
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseAdminArgs('sealing-key', USAGE, args, io);
    if (!parsed) return 2;
    const [action, ...extra] = parsed.positionals;
    if ((action !== 'rotate' && action !== 'cert') || extra.length > 0) {
      io.stderr(`cai sealing-key: expected 'rotate' or 'cert'\n\n${USAGE}\n`);
      return 2;
    }
    const { core, namespace } = operatorNamespaceClient(parsed.values, io.env);
    if (action === 'cert') {
      const cm = await core.readNamespacedConfigMap({ name: SEALING_CERT_CONFIGMAP, namespace });
      const pem = cm.data?.['cert.pem'];
      if (!pem) {
        io.stderr(`cai sealing-key: ConfigMap ${namespace}/${SEALING_CERT_CONFIGMAP} has no cert.pem (is the operator running there?)\n`);
        return 1;
      }
      io.stdout(pem.endsWith('\n') ? pem : `${pem}\n`);
      return 0;
    }
    const keyring = await new SealingKeyStore().rotate(core, namespace);
    io.stderr(`rotated: active sealing key ${keyring.activeKeyId}; ${keyring.keys.length} key(s) kept for opening older SealedCredentials\n`);
    return 0;
  },
};
