import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTngConfig } from '../protocol/tng-config.ts';
import { parseProfile, type Alinux3Profile } from './profile.ts';
import { guestTngConfig } from './tng-egress.ts';

const PROD = join(import.meta.dirname, '..', '..', '..', 'guest-image', 'profiles', 'openclaw-vllm.json');

describe('production guest /etc/tng/config.json', () => {
  it('renders the seed-compatible egress from the openclaw-vllm profile: AA socket, background_check, the gateway port', () => {
    const profile = parseProfile(readFileSync(PROD, 'utf8'), PROD) as Alinux3Profile;
    const text = guestTngConfig(profile);
    expect(JSON.parse(text)).toEqual({
      control_interface: { restful: { host: '127.0.0.1', port: 50000 } },
      add_egress: [
        {
          mapping: { rules: [{ in: { host: '0.0.0.0', port: 41000 }, out: { host: '127.0.0.1', port: 18789 } }] },
          rats_tls: { multiplex: false },
          attest: { aa_addr: 'unix:///run/confidential-containers/attestation-agent/attestation-agent.sock', model: 'background_check' },
        },
      ],
    });
    expect(parseTngConfig(text).add_egress).toHaveLength(1);
  });

  it('refuses a socket path TNG could misread', () => {
    expect(() => guestTngConfig({ tng: { egressPort: 41000, workloadPort: 18789, attestationAgentSocket: 'relative.sock', mode: 'rats-tls' } })).toThrow(/attest/);
  });
});
