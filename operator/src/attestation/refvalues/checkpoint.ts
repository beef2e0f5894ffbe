// Signed checkpoints (C2SP signed-note / tlog-checkpoint, as Rekor v1 serves them in inclusion proofs and
// in GET /api/v1/log): "<origin>\n<size>\n<base64 root>\n[extension lines]\n\n— <name> <base64(hint4||sig)>\n".
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { RefValuesError } from './errors.ts';
import type { LogKey } from './trust.ts';

export interface Checkpoint {
  origin: string;
  treeSize: bigint;
  rootHash: Buffer;
}

export interface NoteSignature {
  name: string;
  keyHint: Buffer;
  signature: Buffer;
}

const bad = (msg: string): never => {
  throw new RefValuesError('CheckpointInvalid', `checkpoint: ${msg}`);
};
const MAX_NOTE = 64 * 1024;

/** Splits a signed note into its signed text, parsed checkpoint body and signature lines. */
export function parseSignedCheckpoint(envelope: string): { text: string; checkpoint: Checkpoint; signatures: NoteSignature[] } {
  if (typeof envelope !== 'string' || envelope.length === 0) return bad('empty');
  if (envelope.length > MAX_NOTE) return bad('larger than 64 KiB');
  const split = envelope.indexOf('\n\n');
  if (split < 0) return bad('no blank line between the note text and its signatures');
  const text = envelope.slice(0, split + 1);
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) return bad('fewer than three header lines (origin, size, root hash)');
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (origin.length === 0) bad('empty origin line');
  if (!/^(0|[1-9][0-9]{0,18})$/.test(sizeText)) bad(`tree size '${sizeText.slice(0, 40)}' is not a decimal number`);
  const rootHash = Buffer.from(rootText, 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== rootText) bad('root hash is not base64 of 32 bytes');
  const signatures: NoteSignature[] = [];
  for (const line of envelope.slice(split + 2).split('\n')) {
    if (line === '') continue;
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) return bad('malformed signature line');
    const raw = Buffer.from(m[2] as string, 'base64');
    if (raw.length < 5) bad('signature line too short');
    signatures.push({ name: m[1] as string, keyHint: raw.subarray(0, 4), signature: raw.subarray(4) });
  }
  if (signatures.length === 0) bad('no signature lines');
  return { text, checkpoint: { origin, treeSize: BigInt(sizeText), rootHash }, signatures };
}

/** Key hint a log key signs notes with: SHA-256(SPKI)[0:4] for ECDSA/RSA (Rekor v1), C2SP form for Ed25519. */
const hintCache = new WeakMap<LogKey, Map<string, Buffer>>();
export function noteKeyHint(log: LogKey, name: string): Buffer {
  let byName = hintCache.get(log);
  if (!byName) hintCache.set(log, (byName = new Map()));
  const ed = log.key.asymmetricKeyType === 'ed25519';
  const cacheKey = ed ? name : '';
  const cached = byName.get(cacheKey);
  if (cached) return cached;
  const spki = log.key.export({ type: 'spki', format: 'der' });
  const hint = ed
    ? createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.of(1), spki.subarray(-32)])).digest().subarray(0, 4)
    : createHash('sha256').update(spki).digest().subarray(0, 4);
  if (byName.size < 64) byName.set(cacheKey, hint);
  return hint;
}

// Entries fetched together share one checkpoint; remembering which exact (log key, note) pairs verified
// saves one ECDSA verification per entry. Bounded; a pure function's memo, so results never differ.
const verifiedNotes = new WeakMap<LogKey, Map<string, Checkpoint>>();
const MAX_REMEMBERED = 256;

/** Verifies that one of `logs` signed the checkpoint; returns the parsed checkpoint. Throws CheckpointInvalid. */
export function verifyCheckpoint(envelope: string, logs: readonly LogKey[]): Checkpoint {
  for (const log of logs) {
    const hit = verifiedNotes.get(log)?.get(envelope);
    if (hit) return { ...hit, rootHash: Buffer.from(hit.rootHash) };
  }
  const { text, checkpoint, signatures } = parseSignedCheckpoint(envelope);
  const data = Buffer.from(text, 'utf8');
  for (const s of signatures) {
    for (const log of logs) {
      if (!noteKeyHint(log, s.name).equals(s.keyHint)) continue;
      const alg = log.key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
      let ok: boolean;
      try {
        ok = cryptoVerify(alg, data, log.key, s.signature);
      } catch {
        ok = false;
      }
      if (ok) {
        let memo = verifiedNotes.get(log);
        if (!memo) verifiedNotes.set(log, (memo = new Map()));
        if (memo.size >= MAX_REMEMBERED) memo.delete(memo.keys().next().value as string);
        memo.set(envelope, { ...checkpoint, rootHash: Buffer.from(checkpoint.rootHash) });
        return checkpoint;
      }
    }
  }
  return bad(`no signature by a trusted log key (origin '${checkpoint.origin}')`);
}

/** Status form (AttestationPolicy status.checkpoint). */
export const checkpointToStatus = (c: Checkpoint): { origin: string; treeSize: number; rootHash: string } => ({
  origin: c.origin,
  treeSize: Number(c.treeSize),
  rootHash: c.rootHash.toString('base64'),
});

export function checkpointFromStatus(s: { origin: string; treeSize: number; rootHash: string }): Checkpoint {
  const rootHash = Buffer.from(s.rootHash, 'base64');
  if (rootHash.length !== 32 || !Number.isSafeInteger(s.treeSize) || s.treeSize < 0) {
    throw new RefValuesError('CheckpointInvalid', 'status.checkpoint: rootHash must be base64 of 32 bytes and treeSize a non-negative integer');
  }
  return { origin: s.origin, treeSize: BigInt(s.treeSize), rootHash };
}
