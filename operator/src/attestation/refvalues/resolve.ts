// AttestationPolicy spec.tdx.referenceValues -> the values in force, for the policy reconciler.
// inline: passed through. rekor: search the log index for sha256(id+version) of each allowed version,
// verify every entry (log checks + policy key + statement), then prove that every checkpoint seen (the last
// verified one from status, the entries' ones) is consistent with the newest signed tree head.
// bundle: verify a Sigstore bundle from a ConfigMap (offline). Never throws: failures come back as
// {ok:false, reason, message} with the stable reasons of errors.ts.
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { CheckpointSchema, ReferenceValuesSchema, ResolvedReferenceValueSchema } from '../../api/attestation-policy.ts';
import { checkpointFromStatus, checkpointToStatus, verifyCheckpoint, type Checkpoint } from './checkpoint.ts';
import type { RekorClient } from './client.ts';
import { RefValuesError, type RefValuesReason } from './errors.ts';
import { verifyConsistency } from './merkle.ts';
import { verifyReferenceBundle } from './reference-bundle.ts';
import { loadPublicKey } from './signing-key.ts';
import { artifactIndexHash, UKI_MEASUREMENT_NAME } from './statement.ts';
import { parseTrustedRoot, publicGoodTrustedRoot, type TrustedRootMaterial } from './trust.ts';
import { verifyRekorEntry, type EntryPolicy, type VerifiedReference } from './verify-entry.ts';

export type ReferenceValuesSpec = z.infer<typeof ReferenceValuesSchema>;
/** status.referenceValues[] of AttestationPolicy. */
export type ResolvedReferenceValue = z.infer<typeof ResolvedReferenceValueSchema>;
/** status.checkpoint of AttestationPolicy (rootHash in base64). */
export type CheckpointStatus = z.infer<typeof CheckpointSchema>;
export type ResolveResult =
  | { ok: true; values: ResolvedReferenceValue[]; checkpoint?: CheckpointStatus }
  | { ok: false; reason: RefValuesReason; message: string };

export interface ResolveDeps {
  /** A client for the log at `url` (RekorClient, or one with caching/metrics around it). */
  rekorClient(url: string, trustedRoot: TrustedRootMaterial): RekorClient;
  readConfigMap(name: string, key: string): Promise<string | undefined>;
  /** All data of a ConfigMap (for rekor.statementsConfigMapRef); undefined when it does not exist. */
  readConfigMapData?(name: string): Promise<Record<string, string> | undefined>;
}

/**
 * Reasons an entry can fail for without the log misbehaving: somebody else's entry under the same index
 * hash. Such entries are skipped (anyone can write to a public log); all other failures stop resolution.
 */
const FOREIGN: ReadonlySet<RefValuesReason> = new Set(['SignatureInvalid', 'SubjectMismatch', 'PredicateTypeMismatch', 'VersionNotAllowed', 'EntryMalformed', 'StatementUnavailable']);
const MAX_STATEMENTS = 64;

/**
 * The statements a policy supplies for dsse / hashedrekord entries, by SHA-256 of their bytes. A value may be
 * a Sigstore bundle (its DSSE payload), a bare DSSE envelope (its payload) or the signed file itself. Nothing
 * here is trusted: a statement only counts when a verified log entry records its hash.
 */
export function statementsFrom(data: Record<string, string>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const add = (b: Buffer) => out.set(createHash('sha256').update(b).digest('hex'), b);
  for (const value of Object.values(data).slice(0, MAX_STATEMENTS)) {
    add(Buffer.from(value, 'utf8'));
    let json: unknown;
    try {
      json = JSON.parse(value);
    } catch {
      continue;
    }
    const obj = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
    const env = typeof obj['dsseEnvelope'] === 'object' && obj['dsseEnvelope'] !== null ? (obj['dsseEnvelope'] as Record<string, unknown>) : obj;
    if (typeof env['payload'] === 'string' && typeof env['payloadType'] === 'string') add(Buffer.from(env['payload'], 'base64'));
  }
  return out;
}

const MAX_ENTRIES_PER_VERSION = 1000;

const INLINE_NAMES = { mrtd: 'mr_td', rtmr0: 'rtmr0', rtmr1: 'rtmr1', rtmr2: 'rtmr2', rtmr3: 'rtmr3', ukiSha384: UKI_MEASUREMENT_NAME } as const;

async function configMapText(deps: ResolveDeps, ref: { name: string; key: string }, what: string): Promise<string> {
  const text = await deps.readConfigMap(ref.name, ref.key);
  if (text === undefined) throw new RefValuesError('ConfigMapMissing', `${what}: ConfigMap ${ref.name} has no key ${ref.key}`);
  return text;
}

async function loadTrust(deps: ResolveDeps, ref: { name: string; key: string } | undefined): Promise<TrustedRootMaterial> {
  return ref ? parseTrustedRoot(await configMapText(deps, ref, 'trustedRootRef')) : publicGoodTrustedRoot();
}

const toValues = (refs: VerifiedReference[]): ResolvedReferenceValue[] => {
  const seen = new Map<string, ResolvedReferenceValue>();
  for (const r of [...refs].sort((a, b) => a.logIndex - b.logIndex)) {
    const key = `${r.version}\u0000${r.sha384}`;
    if (!seen.has(key)) seen.set(key, { name: UKI_MEASUREMENT_NAME, digest: r.sha384, version: r.version, logIndex: r.logIndex });
  }
  return [...seen.values()];
};

/** Proves every checkpoint in `seen` is a prefix of the newest checkpoint of its tree. Returns the newest per origin. */
async function proveConsistent(client: RekorClient, seen: Checkpoint[], treeIds: Map<string, string>): Promise<Map<string, Checkpoint>> {
  const newest = new Map<string, Checkpoint>();
  for (const c of seen) {
    const n = newest.get(c.origin);
    if (!n || c.treeSize > n.treeSize) newest.set(c.origin, c);
  }
  const proofs = new Map<string, Buffer[]>();
  for (const c of seen) {
    const n = newest.get(c.origin) as Checkpoint;
    if (c.treeSize === n.treeSize || c.treeSize === 0n) {
      verifyConsistency(c.treeSize, n.treeSize, [], c.rootHash, c.treeSize === 0n ? c.rootHash : n.rootHash);
      continue;
    }
    const key = `${c.origin}\u0000${c.treeSize}`;
    let proof = proofs.get(key);
    if (!proof) {
      const answer = await client.getConsistencyProof(Number(c.treeSize), Number(n.treeSize), treeIds.get(c.origin));
      proof = answer.hashes.map((h) => Buffer.from(h, 'hex'));
      proofs.set(key, proof);
    }
    verifyConsistency(c.treeSize, n.treeSize, proof, c.rootHash, n.rootHash);
  }
  return newest;
}

async function resolveRekor(spec: NonNullable<ReferenceValuesSpec['rekor']>, deps: ResolveDeps, previous: CheckpointStatus | undefined, at: Date): Promise<ResolveResult> {
  const trust = await loadTrust(deps, spec.trustedRootRef);
  const policy: EntryPolicy = { publicKey: loadPublicKey(spec.publicKey), artifactId: spec.artifactId, allowedVersions: spec.allowedVersions };
  const client = deps.rekorClient(spec.url, trust);
  let statements = new Map<string, Buffer>();
  if (spec.statementsConfigMapRef) {
    const data = await deps.readConfigMapData?.(spec.statementsConfigMapRef.name);
    if (!data) throw new RefValuesError('ConfigMapMissing', `statementsConfigMapRef: ConfigMap ${spec.statementsConfigMapRef.name} does not exist`);
    statements = statementsFrom(data);
  }
  const verified: VerifiedReference[] = [];
  const skipped: RefValuesError[] = [];
  // intoto and dsse entries are indexed under the statement's subjects (the artifact index hash); dsse and
  // hashedrekord entries under the hash of the statement itself.
  const searches = [
    ...spec.allowedVersions.map((v) => ({ hash: artifactIndexHash(spec.artifactId, v), what: `index hash of ${spec.artifactId}@${v}` })),
    ...[...statements.keys()].map((h) => ({ hash: h, what: `statement sha256:${h}` })),
  ];
  const uuids = new Set<string>();
  for (const { hash, what } of searches) {
    const found = await client.searchIndexByHash(hash);
    if (found.length > MAX_ENTRIES_PER_VERSION) {
      // Anyone can add entries under a public index hash; past this bound resolution stops rather than guess.
      throw new RefValuesError('LogUnavailable', `${what} lists ${found.length} entries (limit ${MAX_ENTRIES_PER_VERSION})`);
    }
    for (const u of found) uuids.add(u);
  }
  if (uuids.size > 0) {
    for (const entry of await client.retrieveEntries([...uuids])) {
      try {
        verified.push(verifyRekorEntry(entry, trust, policy, at, statements));
      } catch (e) {
        if (e instanceof RefValuesError && FOREIGN.has(e.reason)) skipped.push(e);
        else throw e;
      }
    }
  }
  // The newest tree head, signed by a trusted log key, and the tree IDs of all shards.
  const info = await client.getLogInfo();
  const head = verifyCheckpoint(info.signedTreeHead, trust.tlogs);
  const shards = [head, ...info.inactiveShards.map((s) => verifyCheckpoint(s.signedTreeHead, trust.tlogs))];
  const treeIds = new Map<string, string>(info.inactiveShards.map((s, i) => [shards[i + 1]?.origin ?? '', s.treeID]));
  const seen = [...shards, ...verified.map((v) => v.checkpoint)];
  if (previous) {
    const prev = checkpointFromStatus(previous);
    if (!shards.some((s) => s.origin === prev.origin)) {
      throw new RefValuesError('LogInconsistent', `the log no longer serves the tree of the last verified checkpoint (origin '${prev.origin}')`);
    }
    // A log's signed tree head never shrinks: a smaller head than one already verified is a rolled-back or
    // forked view, signed by the log itself. Said so here, rather than asking that log for a proof it cannot give.
    const current = shards.find((s) => s.origin === prev.origin) as Checkpoint;
    if (current.treeSize < prev.treeSize) {
      throw new RefValuesError('LogInconsistent', `the log's signed tree head has size ${current.treeSize}, smaller than the last verified checkpoint (size ${prev.treeSize}): a transparency log only grows, so this is a rolled-back or forked view`);
    }
    seen.push(prev);
  }
  const newest = await proveConsistent(client, seen, treeIds);
  for (const v of verified) {
    if (!shards.some((s) => s.origin === v.checkpoint.origin)) {
      throw new RefValuesError('LogInconsistent', `entry ${v.uuid} is proven against tree '${v.checkpoint.origin}', which the log does not list`);
    }
  }
  const values = toValues(verified);
  if (values.length === 0) {
    const first = skipped[0];
    return first
      ? { ok: false, reason: first.reason, message: `no acceptable entry for ${spec.artifactId} (${skipped.length} rejected; first: ${first.message})` }
      : { ok: false, reason: 'NoReferenceValues', message: `the log has no entry for ${spec.artifactId} at versions ${spec.allowedVersions.join(', ')}` };
  }
  return { ok: true, values, checkpoint: checkpointToStatus(newest.get(head.origin) as Checkpoint) };
}

async function resolveBundle(spec: NonNullable<ReferenceValuesSpec['bundle']>, deps: ResolveDeps, at: Date): Promise<ResolveResult> {
  const trust = await loadTrust(deps, spec.trustedRootRef);
  const policy: EntryPolicy = { publicKey: loadPublicKey(spec.publicKey), artifactId: spec.artifactId, allowedVersions: spec.allowedVersions };
  const text = await configMapText(deps, spec.configMapRef, 'configMapRef');
  // Offline: no consistency proof is possible, so no checkpoint is reported.
  return { ok: true, values: toValues([verifyReferenceBundle(text, trust, policy, at)]) };
}

export async function resolveReferenceValues(source: ReferenceValuesSpec, deps: ResolveDeps, previous: CheckpointStatus | undefined, at: Date): Promise<ResolveResult> {
  try {
    if (source.rekor) return await resolveRekor(source.rekor, deps, previous, at);
    if (source.bundle) return await resolveBundle(source.bundle, deps, at);
    // Names as the appraisal matches them (attestation/policy/reference-values.ts).
    const values: ResolvedReferenceValue[] = [];
    for (const [field, name] of Object.entries(INLINE_NAMES)) {
      for (const digest of source.inline?.[field as keyof typeof INLINE_NAMES] ?? []) values.push({ name, digest: digest.toLowerCase() });
    }
    return { ok: true, values };
  } catch (e) {
    if (e instanceof RefValuesError) return { ok: false, reason: e.reason, message: e.message };
    return { ok: false, reason: 'LogUnavailable', message: `unexpected error: ${(e as Error).message}` };
  }
}
