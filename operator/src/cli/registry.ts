// The `cai` subcommands: what selects each one and how to load it. Loading is lazy so that
// `cai operator` does not carry the Alibaba SDK, Sigstore or DCAP stacks of other commands
// (measured: 191 MiB vs 159 MiB RSS at start). registry.test.ts keeps this list in step with the
// modules in ./commands.
import type { CliCommand } from './command.ts';

export interface CommandEntry {
  path: string[];
  summary: string;
  load: () => Promise<{ command: CliCommand }>;
}

export const COMMANDS: CommandEntry[] = [
  { path: ['operator'], summary: 'run the operator (controllers, KBS, metrics)', load: () => import('./commands/operator.ts') },
  { path: ['kbs'], summary: "run the operator's KBS 0.4.0 server as its own process", load: () => import('./commands/kbs.ts') },
  { path: ['kbs', 'rotate-session-keys'], summary: 'rotate the key that seals KBS session cookies (all replicas)', load: () => import('./commands/kbs-session-keys.ts') },
  { path: ['dev'], summary: 'local control plane + operator (local provider) + example agent', load: () => import('./commands/dev.ts') },
  { path: ['local-cloud'], summary: 'run the local cloud that hosts simulated TEE instances', load: () => import('./commands/local-cloud.ts') },
  { path: ['status'], summary: 'what the operator verified about an agent: conditions, appraisal, measurements, credentials, expiries', load: () => import('./commands/status.ts') },
  { path: ['connect'], summary: "a local, attested TNG tunnel to an agent's endpoint (127.0.0.1 only)", load: () => import('./commands/connect.ts') },
  { path: ['seal'], summary: 'Seal a value or Secret manifest into SealedCredential manifest(s)', load: () => import('./commands/seal.ts') },
  { path: ['attestation-service'], summary: "rotate the attestation service's CA and signing key, or print its trust bundle", load: () => import('./commands/attestation-service.ts') },
  { path: ['sealing-key'], summary: "rotate the operator's sealing key, or print its public certificate", load: () => import('./commands/sealing-key.ts') },
  { path: ['verify', 'tdx'], summary: 'Verify an Intel TDX quote (DCAP) and its CC event log', load: () => import('./commands/verify-tdx.ts') },
  { path: ['verify', 'gpu'], summary: 'Verify NVIDIA GPU CC evidence (SPDM report, device chain, RIMs, OCSP)', load: () => import('./commands/verify-gpu.ts') },
  { path: ['refvalues'], summary: 'Publish / verify UKI reference values in a Rekor transparency log', load: () => import('./commands/refvalues.ts') },
  { path: ['pep'], summary: 'sandbox policy check / PEP service / policy schema', load: () => import('./commands/pep.ts') },
  { path: ['sigstore'], summary: 'Sigstore bundle verification (sigstore-conformance client protocol)', load: () => import('./commands/sigstore.ts') },
  {
    path: ['image', 'import'],
    summary: 'import a guest disk image from OSS as an ECS image (UEFI, NVMe) and wait until Available',
    load: () => import('./commands/image.ts'),
  },
  {
    path: ['image', 'build'],
    summary: 'build a reproducible guest image (UKI, dm-verity rootfs, LUKS2 data) from a profile',
    load: () => import('./commands/image-build.ts'),
  },
];
