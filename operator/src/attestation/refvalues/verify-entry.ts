// Pure verification of one Rekor v1 reference-value entry (intoto, dsse or hashedrekord) as served by the REST API: bytes + trust material + a time
// in, the reference value out, or a RefValuesError whose reason names the first failed check. Checks, in
// order (each its own reason): body <-> UUID, log key, time, SET, checkpoint signature, Merkle inclusion,
// body <-> stored attestation, DSSE signature under the policy key, statement predicate and subjects.
// Written here rather than via @sigstore/verify because the REST entry is not a bundle (the statement sits
// in attestation.data, the index in the SET is global) and each failure needs a distinct stable reason.
import { createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { verifyCheckpoint, type Checkpoint } from './checkpoint.ts';
import { IN_TOTO_PAYLOAD_TYPE, verifyEnvelopeSignature } from './dsse.ts';
import { RefValuesError } from './errors.ts';
import { parseLogBody, uuidLeafHash, type LogBody, type RekorLogEntry } from './log-entry.ts';
import { leafHash, verifyInclusion } from './merkle.ts';
import { checkStatement, parseStatement, type Statement, type StatementPolicy } from './statement.ts';
import { findLogKey, type LogKey, type TrustedRootMaterial } from './trust.ts';

export interface EntryPolicy extends StatementPolicy {
  /** The key that must have signed the statement (AttestationPolicy spec.publicKey). */
  publicKey: KeyObject;
}

export interface VerifiedReference {
  uuid: string;
  logIndex: number;
  integratedTime: number;
  checkpoint: Checkpoint;
  version: string;
  sha384: string;
  statement: Statement;
}

/** Accepted clock skew between the log and us when checking integratedTime. */
const MAX_SKEW_SECONDS = 300;

/** Log-side checks only (no statement policy): body/UUID, key, time, SET, checkpoint, inclusion. */
export function verifyEntryInLog(entry: RekorLogEntry, trust: TrustedRootMaterial, at: Date): { log: LogKey; checkpoint: Checkpoint; body: Buffer } {
  const body = Buffer.from(entry.body, 'base64');
  const leaf = leafHash(body);
  if (leaf.toString('hex') !== uuidLeafHash(entry.uuid)) {
    throw new RefValuesError('BodyUuidMismatch', `entry ${entry.uuid}: SHA-256(0x00 || body) is ${leaf.toString('hex')}, not the UUID's leaf hash`);
  }
  const log = findLogKey(trust, Buffer.from(entry.logID, 'hex'), new Date(entry.integratedTime * 1000));
  if (entry.integratedTime > at.getTime() / 1000 + MAX_SKEW_SECONDS) {
    throw new RefValuesError('EntryFromFuture', `entry ${entry.uuid}: integratedTime ${entry.integratedTime} is after ${at.toISOString()}`);
  }
  const set = entry.verification?.signedEntryTimestamp;
  if (!set) throw new RefValuesError('SetInvalid', `entry ${entry.uuid}: no signedEntryTimestamp`);
  const signed = canonicalize({ body: entry.body, integratedTime: entry.integratedTime, logID: entry.logID, logIndex: entry.logIndex }) as string;
  let setOk: boolean;
  try {
    setOk = cryptoVerify('sha256', Buffer.from(signed, 'utf8'), log.key, Buffer.from(set, 'base64'));
  } catch {
    setOk = false;
  }
  if (!setOk) throw new RefValuesError('SetInvalid', `entry ${entry.uuid}: signed entry timestamp does not verify under the log key`);

  const proof = entry.verification?.inclusionProof;
  if (!proof) throw new RefValuesError('InclusionProofInvalid', `entry ${entry.uuid}: no inclusion proof`);
  const checkpoint = verifyCheckpoint(proof.checkpoint, [log]);
  if (checkpoint.rootHash.toString('hex') !== proof.rootHash || checkpoint.treeSize !== BigInt(proof.treeSize)) {
    throw new RefValuesError('InclusionProofInvalid', `entry ${entry.uuid}: inclusion proof root/size differ from the signed checkpoint`);
  }
  verifyInclusion(BigInt(proof.logIndex), checkpoint.treeSize, leaf, proof.hashes.map((h) => Buffer.from(h, 'hex')), checkpoint.rootHash);
  return { log, checkpoint, body };
}

/**
 * Statements supplied next to the log (AttestationPolicy rekor.statementsConfigMapRef), by the hex
 * SHA-256 of their bytes: dsse and hashedrekord entries record only that hash, not the statement.
 */
export type StatementsByHash = ReadonlyMap<string, Buffer>;

/** The statement bytes an entry commits to, and whether a signature over them verifies under the policy key. */
function statementOf(entry: RekorLogEntry, body: LogBody, policy: EntryPolicy, statements: StatementsByHash): Buffer {
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const missing = (what: string): never => {
    throw new RefValuesError('StatementUnavailable', `entry ${entry.uuid}: a ${what} entry does not store its statement and none with its hash is in statementsConfigMapRef`);
  };
  switch (body.kind) {
    case 'intoto': {
      if (!entry.attestation?.data) throw new RefValuesError('EntryMalformed', `entry ${entry.uuid}: the log returned no attestation (statement) for this entry`);
      const payload = Buffer.from(entry.attestation.data, 'base64');
      if (sha256(payload) !== body.body.payloadHash) throw new RefValuesError('BodyEnvelopeMismatch', `entry ${entry.uuid}: the stored statement does not match the logged payloadHash`);
      if (body.body.payloadType !== IN_TOTO_PAYLOAD_TYPE) throw new RefValuesError('BodyEnvelopeMismatch', `entry ${entry.uuid}: payloadType is not ${IN_TOTO_PAYLOAD_TYPE}`);
      if (!body.body.signatures.some((s) => verifyEnvelopeSignature(IN_TOTO_PAYLOAD_TYPE, payload, s.sig, policy.publicKey))) {
        throw new RefValuesError('SignatureInvalid', `entry ${entry.uuid}: no DSSE signature verifies under the policy public key`);
      }
      return payload;
    }
    case 'dsse': {
      // The body has no payloadType; a signature over PAE(in-toto type, statement) binds it.
      const payload = statements.get(body.body.payloadHash) ?? missing('dsse');
      if (!body.body.signatures.some((s) => verifyEnvelopeSignature(IN_TOTO_PAYLOAD_TYPE, payload, s.signature, policy.publicKey))) {
        throw new RefValuesError('SignatureInvalid', `entry ${entry.uuid}: no DSSE signature over an in-toto statement verifies under the policy public key`);
      }
      return payload;
    }
    case 'hashedrekord': {
      const blob = statements.get(body.body.sha256) ?? missing('hashedrekord');
      let ok: boolean;
      try {
        ok = cryptoVerify('sha256', blob, policy.publicKey, body.body.signature);
      } catch {
        ok = false;
      }
      if (!ok) throw new RefValuesError('SignatureInvalid', `entry ${entry.uuid}: the hashedrekord signature does not verify under the policy public key`);
      return blob;
    }
  }
}

/**
 * Full verification of a reference-value entry against the policy. Throws RefValuesError. Entry kinds:
 * intoto 0.0.2 (statement stored by the log), dsse 0.0.1 and hashedrekord 0.0.1 (statement from `statements`).
 */
export function verifyRekorEntry(entry: RekorLogEntry, trust: TrustedRootMaterial, policy: EntryPolicy, at: Date, statements: StatementsByHash = new Map()): VerifiedReference {
  const { checkpoint, body: bodyBytes } = verifyEntryInLog(entry, trust, at);
  const payload = statementOf(entry, parseLogBody(bodyBytes), policy, statements);
  const statement = parseStatement(payload);
  const checked = checkStatement(statement, policy);
  return { uuid: entry.uuid, logIndex: entry.logIndex, integratedTime: entry.integratedTime, checkpoint, ...checked, statement };
}
