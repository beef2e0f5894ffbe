// Typed errors with stable CamelCase reasons. The reason is what AttestationPolicy status shows, so each
// check that can fail has its own code; messages name the field and the check, never secrets.

export type RefValuesReason =
  | 'EntryMalformed' // a Rekor entry / bundle / statement could not be parsed
  | 'BodyUuidMismatch' // SHA-256(0x00 || body) is not the entry UUID's leaf hash
  | 'LogKeyUnknown' // no trusted log key for the entry's logID (or not valid at its time)
  | 'SetInvalid' // the signed entry timestamp does not verify under the log key
  | 'CheckpointInvalid' // the checkpoint is malformed or not signed by the log
  | 'InclusionProofInvalid' // the Merkle inclusion proof does not lead to the checkpoint root
  | 'BodyEnvelopeMismatch' // the logged body does not describe this DSSE envelope
  | 'SignatureInvalid' // the DSSE signature does not verify under the policy key
  | 'PredicateTypeMismatch' // the statement is not an SLSA provenance statement
  | 'SubjectMismatch' // the statement does not name the policy's artifact id / version
  | 'VersionNotAllowed' // the statement is for a version the policy does not accept
  | 'EntryFromFuture' // integratedTime is after the verification time
  | 'LogInconsistent' // the log cannot prove its new checkpoint extends the last verified one
  | 'TrustedRootInvalid' // trusted_root.json is malformed (e.g. a log key without validFor.start)
  | 'KeyInvalid' // a public/private key could not be read
  | 'BundleInvalid' // a Sigstore bundle failed verification for another reason
  | 'NoReferenceValues' // nothing in the log for the allowed versions
  | 'StatementUnavailable' // a dsse/hashedrekord entry whose statement is not in statementsConfigMapRef
  | 'LogUnavailable' // the log could not be reached or answered with an unexpected status or shape
  | 'ResponseTooLarge' // the log's answer exceeded the per-route size cap
  | 'LogUrlNotAllowed' // the policy's log URL is not on the operator's allow-list (--allowed-rekor-urls)
  | 'ConfigMapMissing'; // the referenced ConfigMap key does not exist

export class RefValuesError extends Error {
  readonly reason: RefValuesReason;
  constructor(reason: RefValuesReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RefValuesError';
    this.reason = reason;
  }
}

export const fail = (reason: RefValuesReason, message: string): never => {
  throw new RefValuesError(reason, message);
};
