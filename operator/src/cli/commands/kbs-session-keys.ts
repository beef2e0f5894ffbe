// `cai kbs rotate-session-keys`: new session-cookie key for every KBS replica (the operator's embedded KBS and
// any `cai kbs`). The old key stays able to open cookies for one more rotation, so handshakes in flight
// (a session lives 5 minutes) finish; running replicas pick the new key up from the watched Secret. Runs with
// the caller's (admin) credentials. Rotate on a schedule, and at once if the Secret may have been read.
import { rotateSessionKeys, SESSION_KEYS_SECRET, SessionKeysError } from '../../app/kbs-session-keys.ts';
import { operatorNamespaceClient, parseAdminArgs } from '../admin-command.ts';
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
    const parsed = parseAdminArgs('kbs rotate-session-keys', USAGE, args, io, { positionals: false });
    if (!parsed) return 2;
    const { core, namespace } = operatorNamespaceClient(parsed.values, io.env);
    let rotated;
    try {
      rotated = await rotateSessionKeys(core, namespace);
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
