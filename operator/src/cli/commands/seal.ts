// `cai seal`: turns a value, a file or a Kubernetes Secret manifest into SealedCredential manifest(s),
// offline, from the operator's public sealing certificate. The plaintext never leaves this process.
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { API_VERSION } from '../../api/common.ts';
import { RESOURCE_PATH_PATTERN, SealedCredentialSpecSchema } from '../../api/sealed-credential.ts';
import { seal, type SealScope } from '../../release/sealing/envelope.ts';
import { sealingKeyFromCertificate } from '../../release/sealing/keys.ts';
import type { CliCommand, CliIO } from '../command.ts';

const USAGE = `Usage: cai seal --cert FILE (--from-literal VALUE | --from-file FILE|- | --secret-manifest FILE|-)
                --name N --namespace NS --resource-path REPO/TYPE/TAG
                [--scope strict|namespace-wide] [--agent A ...]

Seals a value to the operator's sealing certificate (ConfigMap confidential-agent-sealing-cert, key cert.pem)
and prints a SealedCredential manifest. The scope (namespace, name for strict, agents, resource path) is bound
into the ciphertext: moving or editing the SealedCredential makes it unusable.
For --secret-manifest, one SealedCredential is printed per Secret key: named <name>-<key>, at resource path
REPO/TYPE/<key> (give --resource-path as REPO/TYPE); --name/--namespace default to the Secret's.`;

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SEGMENT = /^[a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*$/;

/** The request cannot be sealed as given (which flag or field, and why). */
export class SealInputError extends Error {
  readonly code = 'InvalidSealInput';
}
const UsageError = SealInputError;

interface Args {
  cert?: string;
  literal?: string;
  file?: string;
  secretManifest?: string;
  name?: string;
  namespace?: string;
  resourcePath?: string;
  scope: 'Strict' | 'NamespaceWide';
  agents: string[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { scope: 'Strict', agents: [] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    i++;
    switch (flag) {
      case '--cert': a.cert = value; break;
      case '--from-literal': a.literal = value; break;
      case '--from-file': a.file = value; break;
      case '--secret-manifest': a.secretManifest = value; break;
      case '--name': a.name = value; break;
      case '--namespace': case '-n': a.namespace = value; break;
      case '--resource-path': a.resourcePath = value; break;
      case '--agent': a.agents.push(value); break;
      case '--scope':
        if (value !== 'strict' && value !== 'namespace-wide') throw new UsageError('--scope must be strict or namespace-wide');
        a.scope = value === 'strict' ? 'Strict' : 'NamespaceWide';
        break;
      default: throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (!a.cert) throw new UsageError('--cert is required');
  if ([a.literal, a.file, a.secretManifest].filter((x) => x !== undefined).length !== 1) {
    throw new UsageError('give exactly one of --from-literal, --from-file, --secret-manifest');
  }
  for (const agent of a.agents) if (!DNS1123.test(agent) || agent.length > 253) throw new UsageError(`--agent ${agent} is not a valid object name`);
  return a;
}

async function readInput(path: string, io: CliIO): Promise<Buffer> {
  return path === '-' ? io.readStdin() : readFileSync(path);
}

interface Item {
  name: string;
  resourcePath: string;
  value: Buffer;
}

function secretItems(text: string, a: Pick<Args, 'name' | 'namespace' | 'resourcePath'>): { items: Item[]; namespace: string } {
  const docs = parseAllDocuments(text).filter((d) => d.contents !== null);
  if (docs.length !== 1 || docs[0]!.errors.length > 0) throw new UsageError('--secret-manifest must hold exactly one YAML/JSON document');
  const secret = docs[0]!.toJS() as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; data?: Record<string, unknown>; stringData?: Record<string, unknown> };
  if (secret?.kind !== 'Secret') throw new UsageError('--secret-manifest is not a kind: Secret manifest');
  const name = a.name ?? (typeof secret.metadata?.name === 'string' ? secret.metadata.name : undefined);
  const namespace = a.namespace ?? (typeof secret.metadata?.namespace === 'string' ? secret.metadata.namespace : undefined);
  if (!name) throw new UsageError('--name is required (the Secret has no metadata.name)');
  if (!namespace) throw new UsageError('--namespace is required (the Secret has no metadata.namespace)');
  const prefix = a.resourcePath?.split('/') ?? [];
  if (prefix.length !== 2 || !prefix.every((s) => SEGMENT.test(s))) throw new UsageError('with --secret-manifest, --resource-path must be REPO/TYPE (the tag is each Secret key)');
  const values = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(secret.data ?? {})) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new UsageError(`Secret data.${k} is not base64`);
    values.set(k, Buffer.from(v, 'base64'));
  }
  for (const [k, v] of Object.entries(secret.stringData ?? {})) {
    if (typeof v !== 'string') throw new UsageError(`Secret stringData.${k} is not a string`);
    values.set(k, Buffer.from(v, 'utf8'));
  }
  if (values.size === 0) throw new UsageError('the Secret has no data or stringData keys');
  const items = [...values].map(([key, value]) => {
    if (!SEGMENT.test(key)) throw new UsageError(`Secret key ${key} cannot be a KBS resource tag ([A-Za-z0-9_-] first, then [A-Za-z0-9_.-])`);
    const suffix = key.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
    return { name: `${name}-${suffix || 'key'}`, resourcePath: `${prefix.join('/')}/${key}`, value };
  });
  return { items, namespace };
}

/** What to seal: exactly one value source and the scope to bind (the flags of `cai seal` minus --cert). */
export interface SealRequest {
  literal?: string;
  /** Bytes of --from-file. */
  fileValue?: Buffer;
  /** Text of a Secret manifest (--secret-manifest). */
  secretManifest?: string;
  name?: string;
  namespace?: string;
  resourcePath?: string;
  scope: 'Strict' | 'NamespaceWide';
  agents: string[];
}

export interface SealedCredentialManifest {
  apiVersion: string;
  kind: 'SealedCredential';
  metadata: { name: string; namespace: string };
  spec: ReturnType<typeof SealedCredentialSpecSchema.parse>;
}

/** Seals to the certificate: one SealedCredential per value (per key for a Secret). Throws SealInputError. */
export function sealCredentials(certPem: string, r: SealRequest): SealedCredentialManifest[] {
  const cert = sealingKeyFromCertificate(certPem);
  if (!cert.ok) throw new UsageError(`--cert: ${cert.message}`);
  let items: Item[];
  let namespace: string;
  if (r.secretManifest !== undefined) {
    ({ items, namespace } = secretItems(r.secretManifest, { ...(r.name ? { name: r.name } : {}), ...(r.namespace ? { namespace: r.namespace } : {}), ...(r.resourcePath ? { resourcePath: r.resourcePath } : {}) }));
  } else {
    if (!r.name || !r.namespace) throw new UsageError('--name and --namespace are required');
    if (!r.resourcePath || !RESOURCE_PATH_PATTERN.test(r.resourcePath)) throw new UsageError('--resource-path must be REPO/TYPE/TAG');
    const value = r.literal !== undefined ? Buffer.from(r.literal, 'utf8') : r.fileValue;
    if (!value) throw new UsageError('give exactly one of --from-literal, --from-file, --secret-manifest');
    items = [{ name: r.name, resourcePath: r.resourcePath, value }];
    namespace = r.namespace;
  }
  if (!DNS1123.test(namespace) || namespace.length > 63) throw new UsageError(`namespace ${namespace} is not a valid namespace name`);
  return items.map((item) => {
    if (!DNS1123.test(item.name) || item.name.length > 253) throw new UsageError(`name ${item.name} is not a valid object name`);
    const scope: SealScope = { namespace, name: item.name, mode: r.scope, agents: r.agents, resourcePath: item.resourcePath };
    const spec = SealedCredentialSpecSchema.parse({
      encryptedData: seal(certPem, item.value, scope),
      resourcePath: item.resourcePath,
      scope: { mode: r.scope, agents: [...new Set(r.agents)].sort() },
    });
    item.value.fill(0);
    return { apiVersion: API_VERSION, kind: 'SealedCredential' as const, metadata: { name: item.name, namespace }, spec };
  });
}

export async function sealCommand(argv: string[], io: CliIO): Promise<number> {
  try {
    const a = parseArgs(argv);
    const certPem = readFileSync(a.cert!, 'utf8');
    const manifests = sealCredentials(certPem, {
      scope: a.scope,
      agents: a.agents,
      ...(a.literal !== undefined ? { literal: a.literal } : {}),
      ...(a.file !== undefined ? { fileValue: await readInput(a.file, io) } : {}),
      ...(a.secretManifest !== undefined ? { secretManifest: (await readInput(a.secretManifest, io)).toString('utf8') } : {}),
      ...(a.name ? { name: a.name } : {}),
      ...(a.namespace ? { namespace: a.namespace } : {}),
      ...(a.resourcePath ? { resourcePath: a.resourcePath } : {}),
    });
    const docs = manifests.map((m) => stringify(m, { lineWidth: 0 }));
    io.stdout(docs.join('---\n'));
    const cert = sealingKeyFromCertificate(certPem);
    io.stderr(`sealed ${docs.length} credential(s) to key ${cert.ok ? cert.keyId.slice(0, 16) : '?'}…\n`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`cai seal: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    io.stderr(`cai seal: ${err instanceof Error ? err.message.replace(/\n.*/s, '') : 'failed'}\n`);
    return 1;
  }
}

export const command: CliCommand = {
  path: ['seal'],
  summary: 'Seal a value or Secret manifest into SealedCredential manifest(s)',
  usage: USAGE,
  run: sealCommand,
};
