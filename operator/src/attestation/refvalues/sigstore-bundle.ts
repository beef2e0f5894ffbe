// Sigstore bundle verification through @sigstore/verify (where it fits: bundles, Fulcio certificates, SCTs,
// RFC 3161 timestamps, Rekor v1 and v2 entries), plus what it lacks: the trusted-root validFor.start check
// (trust.ts), the in-toto subject <-> artifact check for DSSE bundles, and stable project reason codes.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { HashAlgorithm, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier, type KeyFinderFunc, type SignedEntity, type Signer, type VerificationPolicy } from '@sigstore/verify';
import { verifyEcdsaPrehashed } from './ecdsa-prehashed.ts';
import { RefValuesError, type RefValuesReason } from './errors.ts';
import { parseTrustedRoot, type TrustedRootMaterial } from './trust.ts';

// TrustedRoot.fromJSON is costly; parsed material is immutable, so its protobuf form is kept alongside.
const protoRoots = new WeakMap<TrustedRootMaterial, TrustedRoot>();
function protoRoot(m: TrustedRootMaterial): TrustedRoot {
  let r = protoRoots.get(m);
  if (!r) protoRoots.set(m, (r = TrustedRoot.fromJSON(m.json)));
  return r;
}

export type BundleArtifact = { bytes: Buffer } | { sha256: string };

export interface BundleVerifyInput {
  bundleJson: string;
  /** trusted_root.json text, or material already parsed with parseTrustedRoot. */
  trustedRootJson: string | TrustedRootMaterial;
  /** Managed-key mode: public key (PEM or KeyObject) the bundle must be signed with (no certificate). */
  key?: string | KeyObject;
  /** Keyless mode: the Fulcio certificate identity and OIDC issuer the signer must have. */
  identity?: { subjectAlternativeName: string; issuer: string };
  artifact?: BundleArtifact;
}

export type BundleVerdict = { ok: true; signer: Signer; bundle: Bundle } | { ok: false; reason: RefValuesReason; code: string; message: string };

/** Maps a @sigstore/verify error to this project's reason codes (kept distinct per failed check). */
export function reasonForSigstoreError(code: string, message: string): RefValuesReason {
  switch (code) {
    case 'TLOG_INCLUSION_PROMISE_ERROR':
      return 'SetInvalid';
    case 'TLOG_INCLUSION_PROOF_ERROR':
      return /checkpoint/i.test(message) ? 'CheckpointInvalid' : 'InclusionProofInvalid';
    case 'TLOG_BODY_ERROR':
      return 'BodyEnvelopeMismatch';
    case 'SIGNATURE_ERROR':
    case 'PUBLIC_KEY_ERROR':
    case 'UNTRUSTED_SIGNER_ERROR':
      return 'SignatureInvalid';
    default:
      return 'BundleInvalid';
  }
}

function keyFinder(pem: string | KeyObject): KeyFinderFunc {
  let publicKey: KeyObject;
  try {
    publicKey = typeof pem === 'string' ? createPublicKey({ key: pem, format: 'pem' }) : pem;
  } catch (e) {
    throw new RefValuesError('KeyInvalid', `--key: not a PEM public key (${(e as Error).message})`);
  }
  // Any hint resolves to the one key the caller pinned; its validity is not time-bounded.
  return () => ({ publicKey, validFor: () => true });
}

function checkDsseSubject(bundle: Bundle, artifact: BundleArtifact): void {
  if (bundle.content.$case !== 'dsseEnvelope') return;
  const env = bundle.content.dsseEnvelope;
  if (env.payloadType !== 'application/vnd.in-toto+json') return;
  const want: Record<string, string> =
    'bytes' in artifact
      ? { sha256: createHash('sha256').update(artifact.bytes).digest('hex'), sha512: createHash('sha512').update(artifact.bytes).digest('hex') }
      : { sha256: artifact.sha256.toLowerCase() };
  let subjects: { digest?: Record<string, string> }[] = [];
  try {
    subjects = (JSON.parse(env.payload.toString('utf8')) as { subject?: typeof subjects }).subject ?? [];
  } catch {
    throw new RefValuesError('EntryMalformed', 'DSSE payload is not an in-toto JSON statement');
  }
  const matches = subjects.some((s) => Object.entries(want).some(([alg, hex]) => s.digest?.[alg]?.toLowerCase() === hex));
  if (!matches) throw new RefValuesError('SubjectMismatch', `no in-toto subject has the artifact's digest (sha256 ${want['sha256']})`);
}

/**
 * For `sha256:<hex>` on a message-signature bundle: the bundle's messageDigest must be that digest, and the
 * signature is checked over the digest itself (node:crypto cannot, hence ecdsa-prehashed.ts).
 */
function prehashedEntity(bundle: Bundle, sha256: string): SignedEntity | undefined {
  const entity = toSignedEntity(bundle);
  if (bundle.content.$case !== 'messageSignature') return undefined;
  const d = bundle.content.messageSignature.messageDigest;
  if (d.algorithm !== HashAlgorithm.SHA2_256 || d.digest.toString('hex') !== sha256.toLowerCase()) {
    throw new RefValuesError('BodyEnvelopeMismatch', 'bundle messageDigest is not the given sha256 digest');
  }
  const content = entity.signature;
  const digest = Buffer.from(sha256, 'hex');
  const signature: SignedEntity['signature'] = {
    signature: content.signature,
    compareSignature: (sig) => content.compareSignature(sig),
    compareDigest: (dg) => content.compareDigest(dg),
    compareSignedDigest: (dg) => content.compareSignedDigest(dg),
    verifySignature: (key) => verifyEcdsaPrehashed(key, digest, content.signature),
  };
  return { ...entity, signature };
}

/** Verifies a Sigstore bundle as a sigstore-conformance client does. Never throws. */
export function verifySigstoreBundle(input: BundleVerifyInput): BundleVerdict {
  try {
    const trust = typeof input.trustedRootJson === 'string' ? parseTrustedRoot(input.trustedRootJson) : input.trustedRootJson; // TrustedRootInvalid
    let bundle: Bundle;
    try {
      bundle = bundleFromJSON(JSON.parse(input.bundleJson));
    } catch (e) {
      throw new RefValuesError('EntryMalformed', `bundle: ${(e as Error).message}`);
    }
    if (input.key === undefined && input.identity === undefined) throw new RefValuesError('KeyInvalid', 'need --key or --certificate-identity/--certificate-oidc-issuer');
    if (input.key !== undefined && bundle.verificationMaterial.content.$case !== 'publicKey') {
      throw new RefValuesError('SignatureInvalid', 'a key was pinned but the bundle is signed with a certificate');
    }
    const material = toTrustMaterial(protoRoot(trust), input.key !== undefined ? keyFinder(input.key) : undefined);
    const verifier = new Verifier(material, { tlogThreshold: 1, ctlogThreshold: input.key !== undefined ? 0 : 1, timestampThreshold: 1 });
    const artifact = input.artifact && 'bytes' in input.artifact ? input.artifact.bytes : undefined;
    const entity = (input.artifact && 'sha256' in input.artifact ? prehashedEntity(bundle, input.artifact.sha256) : undefined) ?? toSignedEntity(bundle, artifact);
    const policy: VerificationPolicy = input.identity
      ? { subjectAlternativeName: input.identity.subjectAlternativeName, extensions: { issuer: input.identity.issuer } }
      : {};
    const signer = verifier.verify(entity, policy);
    if (input.artifact) checkDsseSubject(bundle, input.artifact);
    return { ok: true, signer, bundle };
  } catch (e) {
    if (e instanceof RefValuesError) return { ok: false, reason: e.reason, code: e.reason, message: e.message };
    const err = e as { code?: unknown; message?: unknown };
    const code = typeof err.code === 'string' ? err.code : 'ERROR';
    const message = typeof err.message === 'string' ? err.message : String(e);
    return { ok: false, reason: reasonForSigstoreError(code, message), code, message };
  }
}
