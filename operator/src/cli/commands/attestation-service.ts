// `cai attestation-service rotate-ca|ca`: begin a rotation of the attestation service's CA and token signing
// key (the new CA is published at once, signs after the overlap, the old one stays trusted for another
// overlap; running operators pick it up from the Secret within a minute), or print the current trust bundle
// (what TNG gateways pin). Runs with the caller's (admin) credentials; the operator itself only reads.
import { AS_CA_SECRET, DEFAULT_OVERLAP_SECONDS, readAsCa, rotateAsCa } from '../../app/as-ca-store.ts';
import { anchorsPem, AsCaError } from '../../attestation/service/ca.ts';
import { operatorNamespaceClient, parseAdminArgs } from '../admin-command.ts';
import type { CliCommand, CliIO } from '../command.ts';

const USAGE = `Usage: cai attestation-service rotate-ca|ca [--kubeconfig FILE] [--namespace NS] [--overlap SECONDS]
  rotate-ca  generate a new CA + token signing key: trusted at once, signing after --overlap (default ${DEFAULT_OVERLAP_SECONDS} s),
             the old CA trusted for another --overlap. Re-render gateways within the overlap.
  ca         print the trust bundle TNG gateways pin (PEM, all CAs trusted now)
  --namespace NS   the operator namespace (default: $POD_NAMESPACE or confidential-agent-system)`;

export const command: CliCommand = {
  path: ['attestation-service'],
  summary: "rotate the attestation service's CA and signing key, or print its trust bundle",
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseAdminArgs('attestation-service', USAGE, args, io, { options: ['overlap'] });
    if (!parsed) return 2;
    const [action, ...extra] = parsed.positionals;
    if ((action !== 'rotate-ca' && action !== 'ca') || extra.length > 0) {
      io.stderr(`cai attestation-service: expected 'rotate-ca' or 'ca'\n\n${USAGE}\n`);
      return 2;
    }
    const overlap = parsed.values.overlap === undefined ? DEFAULT_OVERLAP_SECONDS : Number(parsed.values.overlap);
    if (!Number.isInteger(overlap) || overlap < 0 || overlap > 90 * 86400) {
      io.stderr(`cai attestation-service: --overlap must be an integer number of seconds between 0 and ${90 * 86400}\n`);
      return 2;
    }
    const { core, namespace } = operatorNamespaceClient(parsed.values, io.env);
    if (action === 'ca') {
      const state = await readAsCa(core, namespace);
      if (!state) {
        io.stderr(`cai attestation-service: Secret ${namespace}/${AS_CA_SECRET} does not exist (is the operator running there?)\n`);
        return 1;
      }
      io.stdout(anchorsPem(state, Date.now()));
      return 0;
    }
    let next;
    try {
      next = await rotateAsCa(core, namespace, Date.now, overlap);
    } catch (err) {
      if (err instanceof AsCaError) {
        io.stderr(`cai attestation-service: ${err.code}: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
    io.stderr(`rotation begun: the new CA is trusted now and signs from ${next.next!.activateAt}; the old CA stays trusted ${overlap} s after that\n`);
    return 0;
  },
};
