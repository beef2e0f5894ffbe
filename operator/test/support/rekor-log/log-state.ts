// The state of the local Rekor-v1-compatible test log: entries (canonical intoto 0.0.2, dsse 0.0.1 and
// hashedrekord 0.0.1 bodies), an
// RFC 6962 tree over them, a P-256 log key that signs SETs and checkpoints, and the search index.
// Behaves like Rekor v1 where the verifier can tell: JCS-canonical bodies, 80-hex UUIDs (tree ID + leaf
// hash), a global logIndex that differs from the shard-local proof index, signed-note checkpoints.
import { createHash, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { verifyEcdsaPrehashed } from '../../../src/attestation/refvalues/ecdsa-prehashed.ts';
import { MerkleTree } from './merkle-tree.ts';

export interface StoredEntry {
  uuid: string;
  body: Buffer;
  integratedTime: number;
  attestation?: Buffer;
  indexKeys: string[];
}

export class ProposalError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

const paeOf = (payloadType: string, payload: Buffer): Buffer => {
  const type = Buffer.from(payloadType);
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
};

/** "<alg>:<digest>" of every in-toto subject (and material), as Rekor indexes in-toto payloads. */
function subjectKeys(payloadType: string, payload: Buffer): string[] {
  if (payloadType !== 'application/vnd.in-toto+json') return [];
  try {
    const st = JSON.parse(payload.toString('utf8')) as { subject?: { digest?: Record<string, string> }[]; predicate?: { materials?: { digest?: Record<string, string> }[] } };
    return [...(st.subject ?? []), ...(st.predicate?.materials ?? [])].flatMap((x) => Object.entries(x.digest ?? {}).map(([alg, d]) => `${alg}:${d}`));
  } catch {
    return []; // not JSON: only the payload and key hashes are indexed, as in Rekor
  }
}

export class RekorLogState {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly logId: string;
  readonly treeId: string;
  /** Global index of this shard's first entry (real Rekor v1 has inactive shards before the active one). */
  readonly shardOffset: number;
  entries: StoredEntry[] = [];
  tree = new MerkleTree();
  name = 'rekor.local';
  now: () => number = () => Math.floor(Date.now() / 1000);
  /** When true, accept envelopes whose signatures do not verify (lets tests log a forged signature). */
  acceptUnverifiedSignatures = false;

  constructor(keys?: { privateKey: KeyObject; publicKey: KeyObject }, shard: { treeId?: string; shardOffset?: number } = {}) {
    this.treeId = shard.treeId ?? '1193050959916656506';
    this.shardOffset = shard.shardOffset ?? 1000;
    const kp = keys ?? generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = kp.privateKey;
    this.publicKey = kp.publicKey;
    this.logId = sha256(this.publicKey.export({ type: 'spki', format: 'der' }));
  }

  get origin(): string {
    return `${this.name} - ${this.treeId}`;
  }

  private readonly signedNotes = new Map<string, string>();

  /** Signed checkpoint for a tree size; kept per (origin, size, root) as Rekor's checkpoint publisher does. */
  checkpoint(size = this.tree.size): string {
    const text = `${this.origin}\n${size}\n${this.tree.root(size).toString('base64')}\n`;
    const cached = this.signedNotes.get(text);
    if (cached) return cached;
    const sig = sign('sha256', Buffer.from(text), this.privateKey);
    const hint = Buffer.from(this.logId, 'hex').subarray(0, 4);
    const note = `${text}\n\u2014 ${this.name} ${Buffer.concat([hint, sig]).toString('base64')}\n`;
    this.signedNotes.set(text, note);
    return note;
  }

  /**
   * Accepts a proposed entry as Rekor v1 does for the kinds reference values use: `intoto` 0.0.2
   * (rekor-cli upload --type intoto), `dsse` 0.0.1 (cosign v3 attest-blob) and `hashedrekord` 0.0.1
   * (cosign sign-blob). Signatures are verified, the canonical body is what Rekor would store, and the
   * index keys are Rekor's (including its quirk: hashedrekord indexes the key hash as bare hex, the
   * others as "sha256:<hex>"). Returns the stored entry, or throws ProposalError (400, or 409 on a duplicate).
   */
  propose(proposed: unknown): StoredEntry {
    if (!isObj(proposed) || !isObj(proposed['spec'])) throw new ProposalError(400, 'proposed entry needs kind, apiVersion and spec');
    const kind = `${String(proposed['kind'])}/${String(proposed['apiVersion'])}`;
    const made: { body: unknown; attestation?: Buffer; indexKeys: string[] } | undefined = kind === 'intoto/0.0.2' ? this.intoto(proposed['spec'])
      : kind === 'dsse/0.0.1' ? this.dsse(proposed['spec'])
      : kind === 'hashedrekord/0.0.1' ? this.hashedrekord(proposed['spec'])
      : undefined;
    if (!made) throw new ProposalError(400, `unsupported kind/apiVersion ${kind}`);
    const body = canonicalize(made.body) as string;
    const leaf = createHash('sha256').update(Buffer.of(0)).update(body).digest('hex');
    const existing = this.entries.find((e) => e.uuid.endsWith(leaf));
    if (existing) throw Object.assign(new ProposalError(409, 'an equivalent entry already exists in the transparency log'), { uuid: existing.uuid });
    const entry: StoredEntry = {
      uuid: `${BigInt(this.treeId).toString(16).padStart(16, '0')}${leaf}`,
      body: Buffer.from(body),
      integratedTime: this.now(),
      ...(made.attestation ? { attestation: made.attestation } : {}),
      indexKeys: [...new Set(made.indexKeys.map((k) => k.toLowerCase()))],
    };
    this.entries.push(entry);
    this.tree.append(entry.body);
    return entry;
  }

  private verifySig(ok: () => boolean): void {
    let verified: boolean;
    try {
      verified = ok();
    } catch {
      verified = false;
    }
    if (!verified && !this.acceptUnverifiedSignatures) throw new ProposalError(400, 'could not verify signature');
  }

  /** PEM text -> Rekor's canonical PEM (Go's MarshalPublicKeyToPEM), or 400. */
  private canonicalPem(pem: string): string {
    try {
      return createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();
    } catch {
      throw new ProposalError(400, 'malformed public key');
    }
  }

  private intoto(spec: Record<string, unknown>): { body: unknown; attestation?: Buffer; indexKeys: string[] } {
    const content = isObj(spec['content']) ? spec['content'] : undefined;
    const env = content && isObj(content['envelope']) ? content['envelope'] : undefined;
    const hash = content?.['hash'];
    if (!env || !isObj(hash) || typeof env['payload'] !== 'string' || typeof env['payloadType'] !== 'string' || !Array.isArray(env['signatures'])) {
      throw new ProposalError(400, 'spec.content.{envelope.payload,payloadType,signatures,hash} required');
    }
    const statement = Buffer.from(Buffer.from(env['payload'], 'base64').toString('utf8'), 'base64');
    const pae = paeOf(env['payloadType'], statement);
    const signatures = (env['signatures'] as unknown[]).map((s) => {
      if (!isObj(s) || typeof s['sig'] !== 'string' || typeof s['publicKey'] !== 'string') throw new ProposalError(400, 'signature needs sig and publicKey');
      const sig = Buffer.from(Buffer.from(s['sig'], 'base64').toString('utf8'), 'base64');
      const pem = Buffer.from(s['publicKey'], 'base64').toString('utf8');
      this.verifySig(() => verify('sha256', pae, pem, sig));
      return { ...(typeof s['keyid'] === 'string' && s['keyid'] !== '' ? { keyid: s['keyid'] } : {}), publicKey: s['publicKey'], sig: s['sig'] };
    });
    if (signatures.length === 0) throw new ProposalError(400, 'missing signatures');
    const payloadHash = sha256(statement);
    const indexKeys = [`sha256:${payloadHash}`, ...signatures.map((s) => `sha256:${sha256(Buffer.from(s.publicKey, 'base64'))}`), ...subjectKeys(env['payloadType'], statement)];
    return {
      body: { apiVersion: '0.0.2', kind: 'intoto', spec: { content: { envelope: { payloadType: env['payloadType'], signatures }, hash, payloadHash: { algorithm: 'sha256', value: payloadHash } } } },
      attestation: statement,
      indexKeys,
    };
  }

  private dsse(spec: Record<string, unknown>): { body: unknown; indexKeys: string[] } {
    const pc = isObj(spec['proposedContent']) ? spec['proposedContent'] : undefined;
    if (!pc || typeof pc['envelope'] !== 'string' || !Array.isArray(pc['verifiers'])) throw new ProposalError(400, 'spec.proposedContent.{envelope,verifiers} required');
    let env: unknown;
    try {
      env = JSON.parse(pc['envelope']);
    } catch {
      throw new ProposalError(400, 'envelope is not JSON');
    }
    if (!isObj(env) || typeof env['payload'] !== 'string' || typeof env['payloadType'] !== 'string' || !Array.isArray(env['signatures']) || env['signatures'].length === 0) {
      throw new ProposalError(400, 'DSSE envelope must contain a payload, payloadType and 1 or more signatures');
    }
    const payload = Buffer.from(env['payload'], 'base64');
    const pae = paeOf(env['payloadType'], payload);
    const verifiers = (pc['verifiers'] as unknown[]).map((v) => (typeof v === 'string' ? this.canonicalPem(Buffer.from(v, 'base64').toString('utf8')) : undefined));
    if (verifiers.length === 0 || verifiers.some((v) => v === undefined)) throw new ProposalError(400, 'an invalid null verifier was provided in ProposedContent');
    // Every signature must verify under one of the verifiers (Rekor's verifyEnvelope).
    const signatures = (env['signatures'] as unknown[]).map((s) => {
      if (!isObj(s) || typeof s['sig'] !== 'string') throw new ProposalError(400, 'signature needs sig');
      const sig = s['sig'];
      const key = (verifiers as string[]).find((pem) => {
        try {
          return verify('sha256', pae, pem, Buffer.from(sig, 'base64'));
        } catch {
          return false;
        }
      });
      if (!key && !this.acceptUnverifiedSignatures) throw new ProposalError(400, 'could not verify envelope');
      return { signature: sig, verifier: Buffer.from(key ?? (verifiers[0] as string)).toString('base64') };
    });
    signatures.sort((a, b) => (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0));
    const payloadHash = sha256(payload);
    const envelopeHash = sha256(Buffer.from(pc['envelope'], 'utf8'));
    const indexKeys = [
      ...signatures.map((s) => `sha256:${sha256(Buffer.from(s.verifier, 'base64'))}`),
      `sha256:${payloadHash}`,
      `sha256:${envelopeHash}`,
      ...subjectKeys(env['payloadType'], payload),
    ];
    return {
      body: { apiVersion: '0.0.1', kind: 'dsse', spec: { envelopeHash: { algorithm: 'sha256', value: envelopeHash }, payloadHash: { algorithm: 'sha256', value: payloadHash }, signatures } },
      indexKeys, // Rekor does not store the envelope of a dsse entry: no attestation
    };
  }

  private hashedrekord(spec: Record<string, unknown>): { body: unknown; indexKeys: string[] } {
    const data = isObj(spec['data']) ? spec['data'] : undefined;
    const hash = data && isObj(data['hash']) ? data['hash'] : undefined;
    const sig = isObj(spec['signature']) ? spec['signature'] : undefined;
    const pk = sig && isObj(sig['publicKey']) ? sig['publicKey'] : undefined;
    if (!hash || !sig || !pk || typeof sig['content'] !== 'string' || typeof pk['content'] !== 'string' || typeof hash['value'] !== 'string') {
      throw new ProposalError(400, 'spec.{data.hash,signature.content,signature.publicKey.content} required');
    }
    const lengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
    const alg = String(hash['algorithm']);
    if (!lengths[alg] || !new RegExp(`^[0-9a-f]{${lengths[alg]}}$`).test(hash['value'])) throw new ProposalError(400, 'data.hash must be a sha256, sha384 or sha512 hex digest');
    const pem = this.canonicalPem(Buffer.from(pk['content'], 'base64').toString('utf8'));
    const signature = Buffer.from(sig['content'], 'base64');
    this.verifySig(() => verifyEcdsaPrehashed(createPublicKey(pem), Buffer.from(hash['value'] as string, 'hex'), signature));
    return {
      body: { apiVersion: '0.0.1', kind: 'hashedrekord', spec: { data: { hash: { algorithm: alg, value: hash['value'] } }, signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(pem).toString('base64') } } } },
      indexKeys: [sha256(Buffer.from(pk['content'], 'base64')), `${alg}:${hash['value']}`],
    };
  }

  /** The Rekor v1 LogEntry JSON for entries[i], with an inclusion proof at the current tree size. */
  logEntry(i: number, withAttestation = true): Record<string, unknown> {
    const e = this.entries[i] as StoredEntry;
    const logIndex = this.shardOffset + i;
    const body = e.body.toString('base64');
    const set = sign('sha256', Buffer.from(canonicalize({ body, integratedTime: e.integratedTime, logID: this.logId, logIndex }) as string), this.privateKey);
    const size = this.tree.size;
    return {
      [e.uuid]: {
        body,
        integratedTime: e.integratedTime,
        logID: this.logId,
        logIndex,
        ...(withAttestation && e.attestation ? { attestation: { data: e.attestation.toString('base64') } } : {}),
        verification: {
          inclusionProof: {
            logIndex: i,
            rootHash: this.tree.root(size).toString('hex'),
            treeSize: size,
            hashes: this.tree.inclusionProof(i, size).map((h) => h.toString('hex')),
            checkpoint: this.checkpoint(size),
          },
          signedEntryTimestamp: set.toString('base64'),
        },
      },
    };
  }

  findByUuid(uuid: string): number {
    return this.entries.findIndex((e) => e.uuid === uuid || e.uuid.endsWith(uuid));
  }

  /**
   * A copy of this log's first `size` entries (all by default), same key, tree ID and name: the starting point
   * of a split view that a forking log shows some clients (then `fork()` the copy).
   */
  copy(size = this.entries.length): RekorLogState {
    const c = new RekorLogState({ privateKey: this.privateKey, publicKey: this.publicKey }, { treeId: this.treeId, shardOffset: this.shardOffset });
    c.name = this.name;
    c.now = this.now;
    c.entries = this.entries.slice(0, size).map((e) => ({ ...e }));
    for (const e of c.entries) c.tree.append(e.body);
    return c;
  }

  /** Rewrites history: leaf `i` gets other bytes and the tree is rebuilt (a split view / forked log). */
  fork(i: number, replacement: Buffer): void {
    const e = this.entries[i];
    if (!e) throw new Error(`no entry ${i}`);
    const leaf = createHash('sha256').update(Buffer.of(0)).update(replacement).digest('hex');
    this.entries[i] = { ...e, body: replacement, uuid: `${e.uuid.slice(0, 16)}${leaf}`, indexKeys: [] };
    this.tree = new MerkleTree();
    for (const x of this.entries) this.tree.append(x.body);
  }

  trustedRootJson(baseUrl: string): string {
    return JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [
        {
          baseUrl,
          hashAlgorithm: 'SHA2_256',
          publicKey: {
            rawBytes: this.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
            validFor: { start: '2020-01-01T00:00:00Z' },
          },
          logId: { keyId: Buffer.from(this.logId, 'hex').toString('base64') },
        },
      ],
      certificateAuthorities: [],
      ctlogs: [],
      timestampAuthorities: [],
    });
  }
}
