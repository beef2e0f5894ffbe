// The production guest's `/etc/tng/config.json`: one TNG egress in front of the agent's gateway, mapping
// 0.0.0.0:<egressPort> → 127.0.0.1:<workloadPort>, attesting through the CoCo attestation-agent socket in the
// background-check model (the operator's AS verifies on each gateway connection). Seed-compatible in what it
// attests with (AA socket, background_check); it maps a port instead of the seed's netfilter capture of
// 18789, so TNG needs no NET_ADMIN and the workload is reachable only through the egress port. Control
// interface on loopback as in the seed. Pure: the alinux3 builder writes the returned text.
import { renderEgress } from '../protocol/tng-config.ts';
import type { Alinux3Profile } from './profile.ts';

export const GUEST_TNG_CONFIG_PATH = 'etc/tng/config.json';

export function guestTngConfig(profile: Pick<Alinux3Profile, 'tng'>): string {
  const t = profile.tng;
  return renderEgress({
    listen: { host: '0.0.0.0', port: t.egressPort },
    workload: { host: '127.0.0.1', port: t.workloadPort },
    mode: t.mode,
    attester: { aaSocket: t.attestationAgentSocket },
    control: { host: '127.0.0.1', port: 50000 },
  });
}
