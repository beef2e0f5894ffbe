// `cai kbs rotate-session-keys`: new session-cookie key for every KBS replica (the operator's embedded KBS and
// any `cai kbs`). The old key stays able to open cookies for one more rotation, so handshakes in flight
// (a session lives 5 minutes) finish; running replicas pick the new key up from the watched Secret. Runs with
// the caller's (admin) credentials. Rotate on a schedule, and at once if the Secret may have been read.
import { parseArgs } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { rotateSessionKeys, SESSION_KEYS_SECRET, SessionKeysError } from '../../app/kbs-session-keys.ts';
import type { CliCommand, CliIO } from '../command.ts';

const USAGE = `Usage: cai kbs rotate-session-keys [--kubeconfig FILE] [--namespace NS]
  Seal KBS session cookies with a new key from now on (Secret ${SESSION_KEYS_SECRET}); cookies sealed with
  the previous key keep opening, those of the key before it no longer do. Do not rotate twice within a
  session lifetime (5 minutes), or handshakes begun before the first rotation must start again.
  --namespace NS   the operator namespace (default: $POD_NAMESPACE or confidential-agent-system)`;

export const command: CliCommand = {
  path: ['kbs', 'rotate-session-keys'],
  summary: 'rotate the key that seals KBS session cookies (all replicas)',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    let parsed: { values: { kubeconfig?: string; namespace?: string }; positionals: string[] };
    try {
      parsed = parseArgs({ args, options: { kubeconfig: { type: 'string' }, namespace: { type: 'string' } }, strict: true, allowPositionals: false });
    } catch (err) {
      io.stderr(`cai kbs rotate-session-keys: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
      return 2;
    }
    const kc = new KubeConfig();
    const file = parsed.values.kubeconfig ?? io.env.KUBECONFIG;
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
    const namespace = parsed.values.namespace ?? io.env.POD_NAMESPACE ?? 'confidential-agent-system';
    let rotated;
    try {
      rotated = await rotateSessionKeys(kc.makeApiClient(CoreV1Api), namespace);
    } catch (err) {
      if (err instanceof SessionKeysError) {
        io.stderr(`cai kbs rotate-session-keys: ${err.code}: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
    // Key ids are digests of the keys, safe to print; the keys themselves never leave the Secret.
    io.stderr(`rotated: KBS session cookies are sealed with key ${rotated.keyId} from now on; key ${rotated.previousKeyId} still opens cookies sealed before\n`);
    return 0;
  },
};
