// `cai refvalues publish|verify|digest`: publish a UKI's reference value to a Rekor v1 log the way the
// original image build does (statement + DSSE + intoto entry + .rekor-meta.json), write a Sigstore bundle
// for offline use, and verify published values from the log (with consistency) or from a bundle.
import { readFile, writeFile } from 'node:fs/promises';
import type { CliCommand, CliIO } from '../command.ts';
import { authenticodeDigest, PeError } from '../../attestation/pe/authenticode.ts';
import { RekorClient, PUBLIC_GOOD_REKOR_URL } from '../../attestation/refvalues/client.ts';
import { RefValuesError } from '../../attestation/refvalues/errors.ts';
import { publishReferenceValues } from '../../attestation/refvalues/publish.ts';
import { resolveReferenceValues, type CheckpointStatus, type ReferenceValuesSpec } from '../../attestation/refvalues/resolve.ts';
import { loadSigningKey } from '../../attestation/refvalues/signing-key.ts';
import { UKI_MEASUREMENT_NAME } from '../../attestation/refvalues/statement.ts';
import { parseTrustedRoot, publicGoodTrustedRoot } from '../../attestation/refvalues/trust.ts';

const USAGE = `Usage:
  cai refvalues publish --artifact-id ID --artifact-version VERSION (--uki FILE.efi | --reference-values RV.json)
        --key cosign.key [--artifact-type uki] [--rekor-url URL] [--trusted-root trusted_root.json]
        [--output-prefix PATH]
      Signs an in-toto SLSA statement for the UKI's Authenticode SHA-384 (measurement.uki.SHA-384) with the
      P-256 key (PEM, or cosign's encrypted key; password from COSIGN_PASSWORD, default empty), uploads it
      to Rekor (default ${PUBLIC_GOOD_REKOR_URL}), verifies the answer, and writes PATH.rekor-meta.json,
      PATH.sigstore.json (and PATH.json with the reference value when --uki is given).
  cai refvalues verify --artifact-id ID --version V [--version V2 ...] --public-key cosign.pub
        [--bundle FILE.sigstore.json | --rekor-url URL] [--trusted-root trusted_root.json] [--checkpoint FILE]
      Resolves and verifies the values; --checkpoint reads the last verified checkpoint (JSON
      {origin,treeSize,rootHash}) to prove consistency from, and is rewritten with the new one.
  cai refvalues digest FILE.efi
      Prints the Authenticode SHA-384 of a PE image.`;

const VALUE_FLAGS = new Set(['--artifact-id', '--artifact-version', '--artifact-type', '--uki', '--reference-values', '--key', '--rekor-url',
  '--trusted-root', '--output-prefix', '--version', '--public-key', '--bundle', '--checkpoint']);

function parse(args: string[]): { get: (f: string) => string | undefined; all: (f: string) => string[]; positional: string[] } | string {
  const values = new Map<string, string[]>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    if (!VALUE_FLAGS.has(a)) return `unknown option ${a}`;
    const v = args[++i];
    if (v === undefined) return `${a} needs a value`;
    values.set(a, [...(values.get(a) ?? []), v]);
  }
  return { get: (f) => values.get(f)?.at(-1), all: (f) => values.get(f) ?? [], positional };
}

async function ukiDigestFromRv(path: string): Promise<string> {
  let rv: unknown;
  try {
    rv = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new RefValuesError('EntryMalformed', `${path}: not JSON`);
  }
  const keys = typeof rv === 'object' && rv !== null ? Object.keys(rv) : [];
  const list = keys.length === 1 && keys[0] === UKI_MEASUREMENT_NAME ? (rv as Record<string, unknown>)[UKI_MEASUREMENT_NAME] : undefined;
  const value = Array.isArray(list) && list.length === 1 ? list[0] : list;
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{96}$/.test(value)) {
    throw new RefValuesError('EntryMalformed', `${path}: expected exactly {"${UKI_MEASUREMENT_NAME}": ["<96 hex>"]}`);
  }
  return value.toLowerCase();
}

async function publish(args: string[], io: CliIO): Promise<number> {
  const p = parse(args);
  if (typeof p === 'string') return usage(io, p);
  const id = p.get('--artifact-id');
  const version = p.get('--artifact-version');
  const keyPath = p.get('--key');
  const uki = p.get('--uki');
  const rvPath = p.get('--reference-values');
  if (!id || !version || !keyPath || (!uki === !rvPath)) return usage(io, 'need --artifact-id, --artifact-version, --key and one of --uki / --reference-values');
  const sha384 = uki ? authenticodeDigest(await readFile(uki), 'sha384') : await ukiDigestFromRv(rvPath as string);
  const signingKey = loadSigningKey(await readFile(keyPath, 'utf8'), io.env['COSIGN_PASSWORD'] ?? '');
  const trustPath = p.get('--trusted-root');
  const trust = trustPath ? parseTrustedRoot(await readFile(trustPath, 'utf8')) : publicGoodTrustedRoot();
  const client = new RekorClient({ url: p.get('--rekor-url') ?? PUBLIC_GOOD_REKOR_URL });
  const r = await publishReferenceValues({ sha384, artifactId: id, artifactVersion: version, artifactType: p.get('--artifact-type') ?? 'uki', signingKey, client, trust, at: new Date() });
  const prefix = p.get('--output-prefix') ?? `${id}-${version}`;
  await writeFile(`${prefix}.rekor-meta.json`, `${JSON.stringify(r.rekorMeta, null, 2)}\n`);
  await writeFile(`${prefix}.sigstore.json`, `${JSON.stringify(r.bundle)}\n`);
  if (uki) await writeFile(`${prefix}.json`, `${JSON.stringify(r.referenceValues, null, 2)}\n`);
  io.stdout(`Created entry at index ${r.entry.logIndex}, available at: ${client.url}/api/v1/log/entries/${r.entry.uuid}\n`);
  io.stdout(`${UKI_MEASUREMENT_NAME} ${sha384}\nwrote ${prefix}.rekor-meta.json ${prefix}.sigstore.json${uki ? ` ${prefix}.json` : ''}\n`);
  return 0;
}

async function verify(args: string[], io: CliIO): Promise<number> {
  const p = parse(args);
  if (typeof p === 'string') return usage(io, p);
  const id = p.get('--artifact-id');
  const versions = p.all('--version');
  const pubPath = p.get('--public-key');
  if (!id || versions.length === 0 || !pubPath) return usage(io, 'need --artifact-id, at least one --version and --public-key');
  const files = new Map<string, string>();
  const trustPath = p.get('--trusted-root');
  if (trustPath) files.set('trusted-root', await readFile(trustPath, 'utf8'));
  const bundlePath = p.get('--bundle');
  if (bundlePath) files.set('bundle', await readFile(bundlePath, 'utf8'));
  const signed = { publicKey: await readFile(pubPath, 'utf8'), artifactId: id, allowedVersions: versions };
  const trustedRootRef = trustPath ? { trustedRootRef: { name: 'file', key: 'trusted-root' } } : {};
  const spec: ReferenceValuesSpec = bundlePath
    ? { bundle: { configMapRef: { name: 'file', key: 'bundle' }, ...trustedRootRef, ...signed } }
    : { rekor: { url: p.get('--rekor-url') ?? PUBLIC_GOOD_REKOR_URL, ...trustedRootRef, ...signed, refreshIntervalSeconds: 3600 } };
  const cpPath = p.get('--checkpoint');
  let previous: CheckpointStatus | undefined;
  if (cpPath) {
    try {
      previous = JSON.parse(await readFile(cpPath, 'utf8')) as CheckpointStatus;
    } catch {
      previous = undefined; // first run: nothing verified yet
    }
  }
  const r = await resolveReferenceValues(spec, { rekorClient: (url) => new RekorClient({ url }), readConfigMap: async (_n, k) => files.get(k) }, previous, new Date());
  if (!r.ok) {
    io.stderr(`FAIL ${r.reason}: ${r.message}\n`);
    return 1;
  }
  if (cpPath && r.checkpoint) await writeFile(cpPath, `${JSON.stringify(r.checkpoint)}\n`);
  io.stdout(`${JSON.stringify({ values: r.values, checkpoint: r.checkpoint }, null, 2)}\n`);
  return 0;
}

function usage(io: CliIO, why: string): number {
  io.stderr(`cai refvalues: ${why}\n\n${USAGE}\n`);
  return 2;
}

export const command: CliCommand = {
  path: ['refvalues'],
  summary: 'Publish / verify UKI reference values in a Rekor transparency log',
  usage: USAGE,
  run: async (args, io) => {
    try {
      if (args[0] === 'publish') return await publish(args.slice(1), io);
      if (args[0] === 'verify') return await verify(args.slice(1), io);
      if (args[0] === 'digest' && args.length === 2) {
        io.stdout(`${authenticodeDigest(await readFile(args[1] as string), 'sha384')}\n`);
        return 0;
      }
      return usage(io, `unknown subcommand '${args[0] ?? ''}' (expected publish, verify or digest FILE)`);
    } catch (e) {
      if (e instanceof RefValuesError || e instanceof PeError) {
        io.stderr(`FAIL ${e instanceof RefValuesError ? e.reason : e.code}: ${e.message}\n`);
        return 1;
      }
      io.stderr(`FAIL ${(e as Error).message}\n`);
      return 1;
    }
  },
};
