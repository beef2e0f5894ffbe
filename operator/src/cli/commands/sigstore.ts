// `cai sigstore verify-bundle`: Sigstore bundle verification speaking the sigstore-conformance client
// protocol, so the project can be run against that suite like any other Sigstore client:
//   cai sigstore verify-bundle --bundle B (--key K | --certificate-identity I --certificate-oidc-issuer O)
//       [--trusted-root T] FILE_OR_DIGEST
// Exit 0 only when the bundle verifies; 1 when it does not; 2 on usage errors.
import { readFile } from 'node:fs/promises';
import type { CliCommand, CliIO } from '../command.ts';
import { PUBLIC_GOOD_TRUSTED_ROOT_JSON } from '../../attestation/refvalues/public-good-trusted-root.ts';
import { verifySigstoreBundle, type BundleArtifact } from '../../attestation/refvalues/sigstore-bundle.ts';

const USAGE = `Usage: cai sigstore verify-bundle --bundle FILE
         (--key PEM_FILE | --certificate-identity SAN --certificate-oidc-issuer URL)
         [--trusted-root trusted_root.json] FILE_OR_sha256:<hex>

Verifies a Sigstore bundle (v0.1-v0.3; Rekor v1/v2; keyless or managed key) offline against a trusted
root (default: the embedded Sigstore public-good root). Exit 0 only when it verifies.`;

const FLAGS = new Set(['--bundle', '--key', '--certificate-identity', '--certificate-oidc-issuer', '--trusted-root', '--trusted_root']);

export function parseFlags(args: string[], known: Set<string>): { flags: Map<string, string>; positional: string[] } | string {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (!known.has(name)) return `unknown option ${name}`;
    const value = inline ?? args[++i];
    if (value === undefined) return `${name} needs a value`;
    flags.set(name.replace('_', '-'), value);
  }
  return { flags, positional };
}

async function verifyBundle(args: string[], io: CliIO): Promise<number> {
  const parsed = parseFlags(args, FLAGS);
  if (typeof parsed === 'string') return usage(io, parsed);
  const { flags, positional } = parsed;
  const bundlePath = flags.get('--bundle');
  const identity = flags.get('--certificate-identity');
  const issuer = flags.get('--certificate-oidc-issuer');
  const keyPath = flags.get('--key');
  if (!bundlePath) return usage(io, '--bundle is required');
  if (positional.length !== 1) return usage(io, 'exactly one artifact path or sha256:<hex> digest is required');
  if (!keyPath && !(identity && issuer)) return usage(io, 'need --key, or both --certificate-identity and --certificate-oidc-issuer');
  const target = positional[0] as string;
  try {
    let artifact: BundleArtifact;
    if (target.startsWith('sha256:')) {
      const hex = target.slice('sha256:'.length);
      if (!/^[0-9a-fA-F]{64}$/.test(hex)) return usage(io, 'a digest must be sha256:<64 hex>');
      artifact = { sha256: hex };
    } else {
      artifact = { bytes: await readFile(target) };
    }
    const trustedRootPath = flags.get('--trusted-root');
    const verdict = verifySigstoreBundle({
      bundleJson: await readFile(bundlePath, 'utf8'),
      trustedRootJson: trustedRootPath ? await readFile(trustedRootPath, 'utf8') : PUBLIC_GOOD_TRUSTED_ROOT_JSON,
      ...(keyPath ? { key: await readFile(keyPath, 'utf8') } : {}),
      ...(identity && issuer ? { identity: { subjectAlternativeName: identity, issuer } } : {}),
      artifact,
    });
    if (!verdict.ok) {
      io.stderr(`FAIL ${verdict.reason} (${verdict.code}): ${verdict.message}\n`);
      return 1;
    }
    io.stdout(`OK ${verdict.signer.identity?.subjectAlternativeName ?? 'key'}\n`);
    return 0;
  } catch (e) {
    io.stderr(`FAIL cannot read input: ${(e as Error).message}\n`);
    return 1;
  }
}

function usage(io: CliIO, why: string): number {
  io.stderr(`cai sigstore: ${why}\n\n${USAGE}\n`);
  return 2;
}

export const command: CliCommand = {
  path: ['sigstore'],
  summary: 'Sigstore bundle verification (sigstore-conformance client protocol)',
  usage: USAGE,
  run: async (args, io) => {
    if (args[0] === 'verify-bundle') return verifyBundle(args.slice(1), io);
    return usage(io, `unknown subcommand '${args[0] ?? ''}' (expected verify-bundle)`);
  },
};
