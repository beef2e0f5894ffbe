// Protocol handlers of the operator's attestation service (Trustee restful AS API 1.6.0, what TNG's
// `verify: {as_addr, policy_ids}` speaks). Pure with respect to storage and policy lookup: the policy
// resolver, the verifier registry, the signing material and the clock are injected; bytes in, response out.
//   - Policy refusals (unknown/unready policy, a TEE the policy does not accept, malformed input) are HTTP
//     errors with a code: TNG prints them, and nothing is signed.
//   - Evidence that fails verification, or names another agent's instance, gets a signed EAR whose status
//     is contraindicated (as trustee issues tokens for failed appraisals): TNG reports EarStatusNotAffirming.
import { createHash, randomBytes } from 'node:crypto';
import { trustedEcPublicKey, verifyRawEcdsa } from '../../protocol/ecdsa-signature.ts';
import type { AttestationPolicySpec } from '../../api/attestation-policy.ts';
import { appraise, type Appraisal, type SubmodAppraisal } from '../policy/appraise.ts';
import { buildEarClaims, type EarClaims, type EarSigner } from '../policy/ear.ts';
import { sandboxPolicyDecision } from '../policy/sandbox-policy.ts';
import { statusOf, TV, worst, type TrustClaim } from '../policy/trust-vector.ts';
import { emptyVector } from '../policy/trust-vector.ts';
import type { VerifierRegistry } from '../registry.ts';
import type { JsonValue, VerifiedEvidence } from '../verifier.ts';
import { asError, type AsErrorCode, type AsResponse } from './errors.ts';
import { parseAttestationRequest, type VerificationRequest } from './messages.ts';
import { parsePolicyId } from './policy-id.ts';
import type { PolicyResolver } from './policy-source.ts';

/** What signs tokens right now: the key, and the x5c chain (DER, leaf first) certifying it. */
export interface SigningMaterial {
  signer: EarSigner;
  x5c: readonly Uint8Array[];
}

export type AsEvent =
  | { type: 'token-issued'; policyId: string; tee: string; status: string; tokenDigest: string; peerAddress: string; sampleTee: boolean; failure?: string }
  | { type: 'refused'; code: AsErrorCode; message: string; peerAddress: string; policyId?: string }
  | { type: 'challenge-issued'; peerAddress: string; policyId?: undefined };

export interface AsHandlerDeps {
  registry: VerifierRegistry;
  resolve: PolicyResolver;
  signing(): SigningMaterial;
  /** PEM trust anchors (GET /certificate). */
  anchorsPem(): string;
  now(): number;
  tokenTtlSeconds: number;
  emit?(e: AsEvent): void;
}

const text = (status: number, body: string, contentType = 'text/plain; charset=utf-8'): AsResponse => ({ status, body, contentType });

export function handleCertificate(deps: AsHandlerDeps): AsResponse {
  return text(200, deps.anchorsPem(), 'application/x-pem-file');
}

/**
 * POST /challenge → {nonce, extra_params:{jwt}} (what TNG's OHTTP mode reads). The jwt is a short-lived
 * token signed by the AS key carrying the nonce; the body of the request is not interpreted.
 */
export function handleChallenge(deps: AsHandlerDeps, peerAddress = ''): AsResponse {
  const nonce = randomBytes(32).toString('base64');
  const iat = Math.floor(deps.now() / 1000);
  const { signer } = deps.signing();
  const jwt = signer.signJson({ nonce, iat, exp: iat + CHALLENGE_TTL_SECONDS });
  deps.emit?.({ type: 'challenge-issued', peerAddress });
  return text(200, JSON.stringify({ nonce, extra_params: { jwt } }), 'application/json');
}

const CPU_CLASS = 'cpu';
export const CHALLENGE_TTL_SECONDS = 300;

/**
 * TNG's OHTTP mode puts the `extra_params.jwt` of POST /challenge into its runtime data as `challenge_token`:
 * it must be one this service signed (current signing key) and not expired, so evidence is fresh.
 */
export function challengeProblem(token: unknown, deps: Pick<AsHandlerDeps, 'signing' | 'now'>): string | undefined {
  if (typeof token !== 'string' || token.length > 4096) return 'runtime_data.challenge_token must be a JWT issued by POST /challenge';
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return 'runtime_data.challenge_token is not a compact JWS';
  const jwk = deps.signing().signer.publicJwk;
  const ok = verifyRawEcdsa('sha256', Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii'), trustedEcPublicKey(jwk), Buffer.from(parts[2]!, 'base64url'), 32);
  if (!ok) return 'runtime_data.challenge_token was not issued by this attestation service';
  let claims: { exp?: unknown; nonce?: unknown };
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return 'runtime_data.challenge_token payload is not JSON';
  }
  if (typeof claims.nonce !== 'string' || typeof claims.exp !== 'number') return 'runtime_data.challenge_token lacks nonce or exp';
  if (deps.now() / 1000 > claims.exp) return 'runtime_data.challenge_token has expired: take a new challenge';
  return undefined;
}

/** An appraisal with `claim` of the cpu0 submodule moved to `value` (only ever worse), statuses recomputed. */
function downgrade(appraisal: Appraisal, claim: TrustClaim, value: number, code: string, message: string): Appraisal {
  const submods: SubmodAppraisal[] = appraisal.submods.map((m) => {
    if (m.name !== 'cpu0') return m;
    const vector = { ...m.vector, [claim]: Math.max(m.vector[claim], value) };
    return { ...m, vector, status: statusOf(vector) };
  });
  const status = submods.reduce<Appraisal['status']>((s, m) => worst(s, m.status), 'none');
  return { ...appraisal, submods, status, reasons: [...appraisal.reasons, { submod: 'cpu0', claim, value, tier: 'contraindicated', code, message }] };
}

/** The appraisal of evidence that failed verification: contraindicated, nothing of it is trusted. */
function failedAppraisal(at: Date, code: string, message: string): Appraisal {
  const vector = { ...emptyVector(), hardware: TV.CONTRAINDICATED_HW };
  const cpu: SubmodAppraisal = { name: 'cpu0', tee: 'none', teeClass: 'cpu', vector, status: statusOf(vector) };
  return { status: cpu.status, submods: [cpu], reasons: [{ submod: 'cpu0', claim: 'hardware', value: TV.CONTRAINDICATED_HW, tier: 'contraindicated', code, message }], appraisedAt: at.toISOString(), sampleTee: false };
}

/** The init-data digest the verified primary evidence carries (sample: init_data; TDX: MRCONFIGID). */
function evidenceInitData(v: VerifiedEvidence): Buffer | undefined {
  const init = v.claims['init_data'];
  if (typeof init === 'string') return Buffer.from(init, 'base64');
  const mrConfigId = v.claims['mr_config_id'];
  if (typeof mrConfigId === 'string' && /^[0-9a-fA-F]{96}$/.test(mrConfigId)) return Buffer.from(mrConfigId, 'hex');
  return undefined;
}

const padded = (b: Buffer, n: number) => (b.length >= n ? b : Buffer.concat([b, Buffer.alloc(n - b.length)]));

function sameInstance(evidence: Buffer | undefined, expected: Buffer): boolean {
  if (!evidence) return false;
  const n = Math.max(evidence.length, expected.length, 48);
  return padded(evidence, n).equals(padded(expected, n));
}

type Verified = { ok: true; verified: VerifiedEvidence[] } | { ok: false; refuse?: { code: AsErrorCode; message: string }; failure?: { tee: string; code: string; message: string } };

async function verifyAll(deps: AsHandlerDeps, requests: VerificationRequest[], spec: AttestationPolicySpec, at: Date): Promise<Verified> {
  const primary = requests[0]!;
  if (!primary.expectedReportData) return { ok: false, refuse: { code: 'MalformedRequest', message: 'verification_requests[0] (the primary evidence) must carry runtime_data' } };
  const verified: VerifiedEvidence[] = [];
  for (const [i, r] of requests.entries()) {
    // Device evidence without its own runtime data is bound to the primary's (TNG/ASR pass one runtime-data hash).
    const result = await deps.registry.verify(r.tee, {
      evidence: r.evidence,
      expectedReportData: r.expectedReportData ?? primary.expectedReportData,
      policy: spec,
      at,
      ...(r.initData ? { initDataDigest: r.initData.digest } : {}),
    });
    if (!result.ok) {
      const f = result.failure;
      if (f.code === 'SampleTeeNotAllowed' || f.code === 'UnsupportedTee') return { ok: false, refuse: { code: 'TeeNotAllowed', message: `verification_requests[${i}]: ${f.message}` } };
      return { ok: false, failure: { tee: r.tee.slice(0, 32), code: f.code, message: f.message } };
    }
    const wantClass = i === 0 ? CPU_CLASS : 'gpu';
    if (result.verified.teeClass !== wantClass) {
      return { ok: false, refuse: { code: 'MalformedRequest', message: `verification_requests[${i}]: ${r.tee} evidence cannot be ${i === 0 ? 'the primary (CPU)' : 'additional (device)'} evidence` } };
    }
    verified.push(result.verified);
  }
  return { ok: true, verified };
}

/** POST /attestation: verify, appraise against the named policy, answer with the EAR (JWT text). */
export async function handleAttestation(deps: AsHandlerDeps, body: Buffer, peerAddress: string): Promise<AsResponse> {
  const refuse = (code: AsErrorCode, message: string, policyId?: string): AsResponse => {
    deps.emit?.({ type: 'refused', code, message, peerAddress, ...(policyId ? { policyId } : {}) });
    return asError(code, message);
  };
  const parsed = parseAttestationRequest(body);
  if (!parsed.ok) return refuse('MalformedRequest', parsed.message);
  const { requests, policyIds } = parsed.value;
  // One EAR submod carries one ear.appraisal-policy-id, and TNG wants every requested id in every submod.
  if (policyIds.length !== 1) return refuse('UnsupportedPolicyCount', 'policy_ids must name exactly one policy id (<namespace>/<AttestationPolicy>[/<ConfidentialAgent>])');
  const policyIdText = policyIds[0]!;
  const id = parsePolicyId(policyIdText);
  if (!id.ok) return refuse('InvalidPolicyId', id.message);
  const resolved = deps.resolve(id.id);
  if (!resolved.ok) return refuse(resolved.code, resolved.message, policyIdText);
  const at = new Date(deps.now());
  const primary = requests[0]!;
  if (primary.runtimeDataClaims && 'challenge_token' in primary.runtimeDataClaims) {
    const problem = challengeProblem(primary.runtimeDataClaims['challenge_token'], deps);
    if (problem) return refuse('ChallengeInvalid', problem, policyIdText);
  }
  const v = await verifyAll(deps, requests, resolved.spec, at);
  if (!v.ok && v.refuse) return refuse(v.refuse.code, v.refuse.message, policyIdText);

  let appraisal: Appraisal;
  let failure: string | undefined;
  if (!v.ok) {
    failure = v.failure!.code;
    appraisal = failedAppraisal(at, v.failure!.code, v.failure!.message);
  } else {
    appraisal = appraise(v.verified, resolved.spec, resolved.referenceValues, at);
    const sandbox = sandboxPolicyDecision(resolved.spec, v.verified);
    if (!sandbox.ok) {
      failure = sandbox.code;
      appraisal = downgrade(appraisal, 'configuration', TV.UNSUPPORTABLE_CONFIG, sandbox.code, sandbox.message);
    }
    if (resolved.expectedInitDataDigest && !sameInstance(primary.initData?.digest ?? evidenceInitData(v.verified[0]!), resolved.expectedInitDataDigest)) {
      failure = 'AgentInstanceMismatch';
      appraisal = downgrade(appraisal, 'instance-identity', 96, 'AgentInstanceMismatch', `the evidence does not carry the init-data of ConfidentialAgent ${id.id.namespace}/${id.id.kind === 'agent' ? id.id.agent : ''}`);
    }
  }
  const claims: EarClaims = buildEarClaims(appraisal, {
    policyId: policyIdText,
    runtimeData: { claims: primary.runtimeDataClaims ?? {} },
    at,
    ttlSeconds: deps.tokenTtlSeconds,
    ...(primary.initData ? { initData: { digest: primary.initData.digest, claims: primary.initData.claims } } : {}),
  });
  if (failure) {
    const ae = claims.submods['cpu0']!['ear.veraison.annotated-evidence'];
    ae['verification_failure'] = { code: failure } as JsonValue;
  }
  const { signer, x5c } = deps.signing();
  const token = signer.sign(claims, { x5c });
  deps.emit?.({
    type: 'token-issued',
    policyId: policyIdText,
    tee: primary.tee,
    status: appraisal.status,
    tokenDigest: createHash('sha256').update(token).digest('hex'),
    peerAddress,
    sampleTee: appraisal.sampleTee,
    ...(failure ? { failure } : {}),
  });
  return text(200, token);
}
