// Public surface of reference values (see docs/reference-values.md). The policy reconciler needs only
// resolveReferenceValues + RekorClient; the rest serves the CLI, the guest-image build and tests.
export { resolveReferenceValues } from './resolve.ts';
export type { CheckpointStatus, ReferenceValuesSpec, ResolveDeps, ResolveResult, ResolvedReferenceValue } from './resolve.ts';
export { RekorClient, PUBLIC_GOOD_REKOR_URL, type LogInfo, type RekorClientOptions } from './client.ts';
export { RefValuesError, type RefValuesReason } from './errors.ts';
export { publishReferenceValues, intotoProposal, type PublishInput, type PublishResult, type RekorMeta } from './publish.ts';
export { verifyRekorEntry, verifyEntryInLog, type EntryPolicy, type VerifiedReference } from './verify-entry.ts';
export { verifyReferenceBundle, entryToBundle } from './reference-bundle.ts';
export { verifySigstoreBundle, type BundleVerifyInput, type BundleVerdict } from './sigstore-bundle.ts';
export { parseTrustedRoot, publicGoodTrustedRoot, type TrustedRootMaterial } from './trust.ts';
export { loadSigningKey, loadPublicKey, type SigningKey } from './signing-key.ts';
export { verifyConsistency, verifyInclusion } from './merkle.ts';
export { verifyCheckpoint, type Checkpoint } from './checkpoint.ts';
export { artifactIndexHash, buildStatement, UKI_MEASUREMENT_NAME } from './statement.ts';
