// Publishing reference values the way the original image build does (slsa-generator + cosign attest-blob +
// rekor-cli upload --type intoto), in one process: statement -> DSSE (P-256) -> Rekor v1 intoto v0.0.2
// entry -> verify what the log returned -> .rekor-meta.json (original five fields) + .sigstore.json bundle.
import { createHash } from 'node:crypto';
import type { RekorClient } from './client.ts';
import { signEnvelope, IN_TOTO_PAYLOAD_TYPE, type DsseEnvelope } from './dsse.ts';
import { RefValuesError } from './errors.ts';
import type { RekorLogEntry } from './log-entry.ts';
import { entryToBundle } from './reference-bundle.ts';
import type { SigningKey } from './signing-key.ts';
import { buildStatement, UKI_MEASUREMENT_NAME, type Statement } from './statement.ts';
import type { TrustedRootMaterial } from './trust.ts';
import { verifyRekorEntry, type VerifiedReference } from './verify-entry.ts';

/** image/output/<final>.rekor-meta.json as build.sh writes it (key order kept). */
export interface RekorMeta {
  artifact_id: string;
  artifact_version: string;
  artifact_type: string;
  rekor_url: string;
  rv_name: string;
}

export interface PublishInput {
  /** Authenticode SHA-384 (hex) of the UKI: measurement.uki.SHA-384. */
  sha384: string;
  artifactId: string;
  artifactVersion: string;
  artifactType?: string;
  signingKey: SigningKey;
  client: RekorClient;
  /** Trust material to verify the log's answer with (the log's key). */
  trust: TrustedRootMaterial;
  at: Date;
}

export interface PublishResult {
  statement: Statement;
  envelope: DsseEnvelope;
  entry: RekorLogEntry;
  verified: VerifiedReference;
  rekorMeta: RekorMeta;
  bundle: Record<string, unknown>;
  /** The sample reference-value file, {"measurement.uki.SHA-384": [hex]}. */
  referenceValues: Record<string, string[]>;
}

const sha256Hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** The proposed entry `rekor-cli upload --type intoto --artifact statement.dsse.json --public-key cosign.pub` sends. */
export function intotoProposal(envelope: DsseEnvelope, publicKeyPem: string): Record<string, unknown> {
  const envelopeJson = JSON.stringify(envelope);
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: {
          payload: b64(envelope.payload),
          payloadType: envelope.payloadType,
          signatures: envelope.signatures.map((s) => ({ ...(s.keyid ? { keyid: s.keyid } : {}), sig: b64(s.sig), publicKey: b64(publicKeyPem) })),
        },
        hash: { algorithm: 'sha256', value: sha256Hex(envelopeJson) },
        payloadHash: { algorithm: 'sha256', value: sha256Hex(Buffer.from(envelope.payload, 'base64')) },
      },
    },
  };
}

export async function publishReferenceValues(input: PublishInput): Promise<PublishResult> {
  if (!/^[0-9a-fA-F]{96}$/.test(input.sha384)) throw new RefValuesError('EntryMalformed', 'sha384 must be 96 hex characters');
  const artifactType = input.artifactType ?? 'uki';
  const statement = buildStatement({ artifactId: input.artifactId, artifactVersion: input.artifactVersion, artifactType, sha384: input.sha384 });
  const envelope = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(statement), 'utf8'), input.signingKey.privateKey);
  const created = await input.client.createEntry(intotoProposal(envelope, input.signingKey.publicKeyPem));
  // The create answer carries no attestation; read the entry back as consumers will see it.
  const entry = await input.client.getEntryByUuid(created.uuid);
  const verified = verifyRekorEntry(entry, input.trust, {
    publicKey: input.signingKey.publicKey,
    artifactId: input.artifactId,
    allowedVersions: [input.artifactVersion],
  }, input.at);
  const keyHint = createHash('sha256').update(input.signingKey.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  return {
    statement,
    envelope,
    entry,
    verified,
    rekorMeta: {
      artifact_id: input.artifactId,
      artifact_version: input.artifactVersion,
      artifact_type: artifactType,
      rekor_url: input.client.url,
      rv_name: UKI_MEASUREMENT_NAME,
    },
    bundle: entryToBundle(entry, keyHint),
    referenceValues: { [UKI_MEASUREMENT_NAME]: [input.sha384.toLowerCase()] },
  };
}
