// The state of the local Rekor-v1-compatible test log: entries (canonical intoto v0.0.2 bodies), an
// RFC 6962 tree over them, a P-256 log key that signs SETs and checkpoints, and the search index.
// Behaves like Rekor v1 where the verifier can tell: JCS-canonical bodies, 80-hex UUIDs (tree ID + leaf
// hash), a global logIndex that differs from the shard-local proof index, signed-note checkpoints.
import { createHash, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
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

  /** Accepts a proposed intoto v0.0.2 entry, as rekor-cli uploads it. Returns the stored entry (or 409). */
  propose(proposed: unknown): StoredEntry {
    if (!isObj(proposed) || proposed['kind'] !== 'intoto' || proposed['apiVersion'] !== '0.0.2') throw new ProposalError(400, 'only intoto 0.0.2 is supported');
    const content = isObj(proposed['spec']) && isObj(proposed['spec']['content']) ? proposed['spec']['content'] : undefined;
    const env = content && isObj(content['envelope']) ? content['envelope'] : undefined;
    const hash = content?.['hash'];
    if (!env || !isObj(hash) || typeof env['payload'] !== 'string' || typeof env['payloadType'] !== 'string' || !Array.isArray(env['signatures'])) {
      throw new ProposalError(400, 'spec.content.{envelope.payload,payloadType,signatures,hash} required');
    }
    const payloadB64 = Buffer.from(env['payload'], 'base64').toString('utf8');
    const statement = Buffer.from(payloadB64, 'base64');
    const type = Buffer.from(env['payloadType']);
    const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${statement.length} `), statement]);
    const signatures = (env['signatures'] as unknown[]).map((s) => {
      if (!isObj(s) || typeof s['sig'] !== 'string' || typeof s['publicKey'] !== 'string') throw new ProposalError(400, 'signature needs sig and publicKey');
      const sig = Buffer.from(Buffer.from(s['sig'], 'base64').toString('utf8'), 'base64');
      const pem = Buffer.from(s['publicKey'], 'base64').toString('utf8');
      let ok: boolean;
      try {
        ok = verify('sha256', pae, pem, sig);
      } catch {
        ok = false;
      }
      if (!ok && !this.acceptUnverifiedSignatures) throw new ProposalError(400, 'could not verify envelope');
      return { ...(typeof s['keyid'] === 'string' && s['keyid'] !== '' ? { keyid: s['keyid'] } : {}), publicKey: s['publicKey'], sig: s['sig'] };
    });
    if (signatures.length === 0) throw new ProposalError(400, 'missing signatures');
    const payloadHash = sha256(statement);
    const body = canonicalize({
      apiVersion: '0.0.2',
      kind: 'intoto',
      spec: { content: { envelope: { payloadType: env['payloadType'], signatures }, hash, payloadHash: { algorithm: 'sha256', value: payloadHash } } },
    }) as string;
    const leaf = createHash('sha256').update(Buffer.of(0)).update(body).digest('hex');
    const existing = this.entries.find((e) => e.uuid.endsWith(leaf));
    if (existing) throw Object.assign(new ProposalError(409, 'an equivalent entry already exists in the transparency log'), { uuid: existing.uuid });
    const indexKeys = new Set<string>([`sha256:${payloadHash}`]);
    for (const s of signatures) indexKeys.add(`sha256:${sha256(Buffer.from(s.publicKey, 'base64'))}`);
    try {
      const st = JSON.parse(statement.toString('utf8')) as { subject?: { digest?: Record<string, string> }[] };
      for (const sub of st.subject ?? []) for (const [alg, d] of Object.entries(sub.digest ?? {})) indexKeys.add(`${alg}:${d}`.toLowerCase());
    } catch {
      // not JSON: only the payload and key hashes are indexed, as in Rekor
    }
    const entry: StoredEntry = { uuid: `${BigInt(this.treeId).toString(16).padStart(16, '0')}${leaf}`, body: Buffer.from(body), integratedTime: this.now(), attestation: statement, indexKeys: [...indexKeys] };
    this.entries.push(entry);
    this.tree.append(entry.body);
    return entry;
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
