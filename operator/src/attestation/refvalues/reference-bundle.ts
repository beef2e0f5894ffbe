// Reference values as Sigstore bundles (.sigstore.json, for offline / air-gapped policies): converting a
// verified Rekor v1 intoto entry into a v0.3 bundle, and verifying such a bundle against the policy.
// The Sigstore checks (SET, checkpoint, inclusion, body <-> envelope, DSSE signature) are @sigstore/verify's;
// the time bound and the statement policy are ours.
import { parseSignedCheckpoint } from './checkpoint.ts';
import { RefValuesError } from './errors.ts';
import { parseIntotoBody, type RekorLogEntry } from './log-entry.ts';
import { leafHash } from './merkle.ts';
import { checkStatement, parseStatement } from './statement.ts';
import { verifySigstoreBundle } from './sigstore-bundle.ts';
import type { TrustedRootMaterial } from './trust.ts';
import type { EntryPolicy, VerifiedReference } from './verify-entry.ts';

export const BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const hexToB64 = (h: string) => Buffer.from(h, 'hex').toString('base64');

/** A Sigstore bundle v0.3 (protobuf JSON) for a Rekor v1 intoto v0.0.2 entry that carries its attestation. */
export function entryToBundle(entry: RekorLogEntry, keyHint = ''): Record<string, unknown> {
  const proof = entry.verification?.inclusionProof;
  const set = entry.verification?.signedEntryTimestamp;
  if (!proof || !set || !entry.attestation?.data) {
    throw new RefValuesError('EntryMalformed', `entry ${entry.uuid}: a bundle needs the inclusion proof, SET and attestation`);
  }
  const body = parseIntotoBody(entry.body);
  return {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: {
      publicKey: { hint: keyHint },
      tlogEntries: [
        {
          logIndex: String(entry.logIndex),
          logId: { keyId: hexToB64(entry.logID) },
          kindVersion: { kind: 'intoto', version: '0.0.2' },
          integratedTime: String(entry.integratedTime),
          inclusionPromise: { signedEntryTimestamp: set },
          inclusionProof: {
            logIndex: String(proof.logIndex),
            rootHash: hexToB64(proof.rootHash),
            treeSize: String(proof.treeSize),
            hashes: proof.hashes.map(hexToB64),
            checkpoint: { envelope: proof.checkpoint },
          },
          canonicalizedBody: entry.body,
        },
      ],
    },
    dsseEnvelope: {
      payload: entry.attestation.data,
      payloadType: body.payloadType,
      signatures: body.signatures.map((s) => ({ sig: s.sig, keyid: s.keyid ?? '' })),
    },
  };
}

/** Verifies a reference-value bundle under the policy key and statement policy at time `at`. */
export function verifyReferenceBundle(bundleJson: string, trust: TrustedRootMaterial, policy: EntryPolicy, at: Date): VerifiedReference {
  const verdict = verifySigstoreBundle({ bundleJson, trustedRootJson: trust, key: policy.publicKey });
  if (!verdict.ok) throw new RefValuesError(verdict.reason, `bundle: ${verdict.message}`);
  const { bundle } = verdict;
  const tle = bundle.verificationMaterial.tlogEntries[0];
  if (!tle || bundle.content.$case !== 'dsseEnvelope') throw new RefValuesError('EntryMalformed', 'bundle: needs a DSSE envelope and a transparency-log entry');
  const integratedTime = Number(tle.integratedTime);
  if (integratedTime > at.getTime() / 1000 + 300) {
    throw new RefValuesError('EntryFromFuture', `bundle: integratedTime ${integratedTime} is after ${at.toISOString()}`);
  }
  if (bundle.content.dsseEnvelope.payloadType !== 'application/vnd.in-toto+json') {
    throw new RefValuesError('BodyEnvelopeMismatch', 'bundle: DSSE payloadType is not application/vnd.in-toto+json');
  }
  const statement = parseStatement(bundle.content.dsseEnvelope.payload);
  const checked = checkStatement(statement, policy);
  const envelope = tle.inclusionProof?.checkpoint?.envelope;
  if (!envelope) throw new RefValuesError('InclusionProofInvalid', 'bundle: no inclusion proof with a checkpoint');
  return {
    uuid: leafHash(tle.canonicalizedBody).toString('hex'),
    logIndex: Number(tle.logIndex),
    integratedTime,
    checkpoint: parseSignedCheckpoint(envelope).checkpoint,
    ...checked,
    statement,
  };
}
