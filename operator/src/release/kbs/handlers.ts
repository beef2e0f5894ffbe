// KBS 0.4.0 protocol handlers, independent of node:http: each takes the parsed request pieces and returns
// status, body and an optional Set-Cookie. Policy and storage decisions go through the injected hooks.
import { createHash } from 'node:crypto';
import { appraise } from '../../attestation/policy/appraise.ts';
import { initDataClaims } from '../../protocol/init-data-claims.ts';
import { buildEarClaims, initDataDigestHexFromEar, teePubkeyFromEar, verifiedFromEar, verifyEar, type EarSigner, type EcPublicJwk } from '../../attestation/policy/ear.ts';
import { isTeeType, verifyCompositeEvidence, type VerifierRegistry } from '../../attestation/registry.ts';
import { encryptToTeeKey, JweError } from '../jwe.ts';
import { kbsError, type KbsErrorResponse } from './errors.ts';
import { KBS_PROTOCOL_VERSION, KBS_TEES, parseAttestation, parseAuthRequest, parseJson } from './messages.ts';
import type { Session, SessionStore } from './sessions.ts';
import type { SessionCookies } from './session-cookie.ts';
import { normalizeAddress } from './decide-release.ts';
import type { AttestedRequester, Entitlements, KbsEvent, PolicyContext, PolicyQuery } from './types.ts';
import { withSandboxPolicyClaim } from '../../pep/attestation.ts';

export const SESSION_COOKIE = 'kbs-session-id';
const RESOURCE_SEGMENT = /^[a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*$/;

/** What a requester is told when a release is refused; the reason goes to logs and the agent's Events. */
export const GENERIC_RELEASE_REFUSAL = 'ReleaseDenied: the resource is not released to this requester';
/** What a requester is told when its attestation is refused, after the code (detail only in logs/Events). */
export const GENERIC_ATTESTATION_REFUSAL = 'the attestation was not accepted';

export interface HandlerDeps {
  sessions: SessionStore;
  /** Seals and opens the session cookie (keys shared by all replicas). */
  cookies: SessionCookies;
  /** Whether /auth from this address may open a session (KBS mode: some agent's instance is there). */
  admits(q: { peerAddress: string; tee: string }): boolean;
  registry: VerifierRegistry;
  signer: EarSigner;
  trustedEarKeys: EcPublicJwk[];
  policyFor(query: PolicyQuery): Promise<PolicyContext | undefined>;
  entitlements: Entitlements;
  now: () => number;
  tokenTtlSeconds: number;
  emit(e: KbsEvent): void;
}

export interface HandlerResponse {
  status: number;
  body: string;
  setCookie?: string;
}

const json = (status: number, value: unknown, setCookie?: string): HandlerResponse => ({ status, body: JSON.stringify(value), ...(setCookie ? { setCookie } : {}) });
const err = (e: KbsErrorResponse): HandlerResponse => ({ status: e.status, body: e.body });
const setCookie = (value: string, expiresAt: number) => `${SESSION_COOKIE}=${value}; Expires=${new Date(expiresAt).toUTCString()}`;
const authCookie = (deps: HandlerDeps, s: Session) => setCookie(deps.cookies.seal({ k: 'auth', sid: s.id, tee: s.tee, nonce: s.nonce, peer: s.peerAddress, exp: s.expiresAt }), s.expiresAt);
/**
 * EARs up to this size travel in the attested cookie (any replica can serve the session); a larger one
 * (TDX + several GPUs' annotated evidence runs to tens of KB) would make a cookie clients refuse, so the
 * cookie then names the session only: the attesting replica serves it from its cache, another replica
 * answers 401 and the client re-attests (as KBS clients do on 401), and Bearer works everywhere.
 */
export const MAX_INLINE_EAR = 8 * 1024;
const attestedCookie = (deps: HandlerDeps, s: Session, token: string) =>
  setCookie(deps.cookies.seal({ k: 'attested', sid: s.id, exp: s.expiresAt, token: token.length <= MAX_INLINE_EAR ? token : '' }), s.expiresAt);

export function handleAuth(deps: HandlerDeps, body: Buffer, peerAddress = ''): HandlerResponse {
  const parsed = parseJson(body);
  if (!parsed.ok) return err(kbsError('SerdeError', parsed.message));
  const req = parseAuthRequest(parsed.value);
  if (!req.ok) return err(kbsError('AttestationError', `RCAR handshake Auth failed: ${req.message}`));
  if (req.value.version !== KBS_PROTOCOL_VERSION) {
    return err(kbsError('AttestationError', `Attestation error: RCAR handshake Auth failed: KBS Client Protocol Version Mismatch: expect =${KBS_PROTOCOL_VERSION} while the request is ${req.value.version.slice(0, 32)}`));
  }
  if (!(KBS_TEES as readonly string[]).includes(req.value.tee)) return err(kbsError('AttestationError', `RCAR handshake Auth failed: unknown TEE type`));
  if (!isTeeType(req.value.tee) || !deps.registry.has(req.value.tee)) return err(kbsError('AttestationError', `RCAR handshake Auth failed: TEE type ${req.value.tee} is not supported by this KBS`));
  if (!deps.admits({ peerAddress, tee: req.value.tee })) {
    deps.emit({ type: 'attestation-refused', code: 'UnknownRequester', message: 'no agent instance in KBS mode at this address', peerAddress, tee: req.value.tee });
    return err(kbsError('AttestationError', `RCAR handshake Auth failed: UnknownRequester: ${GENERIC_ATTESTATION_REFUSAL}`));
  }
  const s = deps.sessions.create(req.value.tee, peerAddress);
  if ('refused' in s) {
    deps.emit({ type: 'attestation-refused', code: s.refused, message: s.refused === 'TooManyPendingSessions' ? 'too many unauthenticated sessions from this address' : 'the session table is full of attested sessions', peerAddress, tee: req.value.tee });
    return err(kbsError('AttestationError', `RCAR handshake Auth failed: ${s.refused}: try again later`));
  }
  return json(200, { nonce: s.nonce, 'extra-params': '' }, authCookie(deps, s));
}

export async function handleAttest(deps: HandlerDeps, body: Buffer, cookie: string | undefined, peerAddress: string): Promise<HandlerResponse> {
  // The code is the requester's to know (it is about its own evidence or session); the message may name
  // policies and agents, so it goes to the event (logs, and the claimed agent's Events) only.
  const requester: { tee?: string } = {}; // the TEE type is known once the session is
  const refuse = (code: string, message: string) => {
    deps.emit({ type: 'attestation-refused', code, message, peerAddress, ...requester });
    return err(kbsError('AttestationError', `RCAR handshake Attest failed: ${code}: ${GENERIC_ATTESTATION_REFUSAL}`));
  };
  const found = sessionForAttest(deps, cookie, peerAddress);
  if ('code' in found) return refuse(found.code, found.message);
  const session = found.session;
  requester.tee = session.tee;
  if (session.state !== 'authed') return refuse('NonceAlreadyUsed', 'this session already attested (nonces are single use); call /auth again');
  // Any /attest uses the session up, even one that does not parse: a rejected body frees the address's
  // allowance of unauthenticated sessions (sessions.ts) instead of holding it for a TTL.
  deps.sessions.consume(session);
  const r = await attestConsumed(deps, session, body, peerAddress, refuse);
  if (r.status !== 200) deps.sessions.fail(session);
  return r;
}

async function attestConsumed(deps: HandlerDeps, session: Session, body: Buffer, peerAddress: string, refuse: (code: string, message: string) => HandlerResponse): Promise<HandlerResponse> {
  const parsed = parseJson(body);
  if (!parsed.ok) return err(kbsError('SerdeError', parsed.message));
  const att = parseAttestation(parsed.value);
  if (!att.ok) return err(kbsError('SerdeError', att.message));
  const a = att.value;
  if (a.nonce !== session.nonce) {
    const kind = deps.sessions.classifyNonce(a.nonce);
    if (kind === 'used') return refuse('AttestationReplayed', 'runtime-data.nonce was already used by an earlier attestation');
    return refuse('NonceMismatch', kind === 'other-session' ? 'runtime-data.nonce belongs to another session' : 'runtime-data.nonce is not the nonce issued for this session');
  }
  const initDataDigest = a.initData?.digest.toString('hex');
  const policy = await deps.policyFor({ tee: session.tee, peerAddress, ...(initDataDigest ? { initDataDigest } : {}) });
  if (!policy) return refuse('NoPolicy', 'no AttestationPolicy applies to this requester');
  const at = new Date(deps.now());
  const verified = await verifyCompositeEvidence(
    { tee: session.tee, runtimeNonce: a.nonce, teePubkey: a.teePubkey, primaryEvidence: a.primaryEvidence, additionalEvidence: a.additionalEvidence, ...(a.initData ? { initDataDigest: a.initData.digest } : {}) },
    session.nonce,
    policy.spec,
    deps.registry,
    at,
  );
  if (!verified.ok) return refuse(verified.failure.code, verified.failure.message);
  // The init-data digest was checked by the verifier (TDX: MRCONFIGID); what it names becomes claims.
  const evidence = withSandboxPolicyClaim(verified.verified, a.initData?.body);
  const appraisal = appraise(evidence, policy.spec, policy.referenceValues, at);
  const claims = buildEarClaims(appraisal, {
    policyId: policy.id,
    runtimeData: { nonce: a.nonce, teePubkey: a.teePubkey, additionalEvidence: a.additionalEvidence },
    at,
    ttlSeconds: deps.tokenTtlSeconds,
    ...(a.initData ? { initData: { digest: a.initData.digest, claims: initDataClaims(a.initData.body) } } : {}),
  });
  const token = deps.signer.sign(claims);
  deps.sessions.attest(session, { token, claims, verified: evidence, teePubkey: a.teePubkey, appraisal, policyId: policy.id, ...(initDataDigest ? { initDataDigest } : {}) });
  deps.emit({ type: 'attested', tee: session.tee, status: appraisal.status, policyId: policy.id, tokenDigest: createHash('sha256').update(token).digest('hex'), peerAddress, sampleTee: appraisal.sampleTee });
  return json(200, { token }, attestedCookie(deps, session, token));
}

const USED = 'this session already attested (nonces are single use); call /auth again';

/**
 * The session an /attest continues: from the authenticated cookie, whichever replica opened it, checked
 * against this replica's ledger (a nonce consumed here is never accepted again here).
 */
function sessionForAttest(deps: HandlerDeps, cookie: string | undefined, peerAddress: string): { session: Session } | { code: string; message: string } {
  if (!cookie) return { code: 'NoCookie', message: 'no kbs-session-id cookie; call /auth first' };
  const opened = deps.cookies.open(cookie);
  if (!opened.ok) return { code: 'UnknownSession', message: `the kbs-session-id cookie was not issued by this KBS (${opened.code}); call /auth first` };
  const c = opened.claims;
  if (c.k !== 'auth') return { code: 'NonceAlreadyUsed', message: USED };
  if (deps.now() >= c.exp) return { code: 'SessionExpired', message: 'the session expired; call /auth again' };
  // A session belongs to the address that opened it: a cookie lifted from one guest is useless elsewhere.
  if (normalizeAddress(c.peer) !== normalizeAddress(peerAddress)) return { code: 'SessionAddressMismatch', message: 'the session was opened from another address; call /auth again' };
  const local = deps.sessions.get(c.sid);
  if ('session' in local) return local.session.nonce === c.nonce ? local : { code: 'UnknownSession', message: 'the cookie does not match the session it names' };
  const adopted = deps.sessions.adopt({ id: c.sid, tee: c.tee, nonce: c.nonce, peerAddress: c.peer, expiresAt: c.exp });
  if ('refused' in adopted) return { code: adopted.refused, message: adopted.refused === 'NonceAlreadyUsed' ? USED : adopted.refused === 'SessionExpired' ? 'the session expired; call /auth again' : 'the session table is full; call /auth again' };
  return { session: adopted };
}

/** Splits `<repo>/<type>/<tag>`; undefined when it is not a valid KBS resource path. */
export function parseResourcePath(rest: string): string | undefined {
  const parts = rest.split('/');
  if (parts.length !== 3 || !parts.every((p) => p.length <= 128 && RESOURCE_SEGMENT.test(p))) return undefined;
  return parts.join('/');
}

function requesterFromToken(deps: HandlerDeps, token: string, peerAddress: string): AttestedRequester | KbsErrorResponse {
  const v = verifyEar(token, deps.trustedEarKeys, new Date(deps.now()));
  if (!v.ok) return kbsError('TokenVerifierError', `${v.code}: ${v.message}`);
  const teePubkey = teePubkeyFromEar(v.claims);
  if (!teePubkey) return kbsError('TokenVerifierError', 'token carries no runtime_data_claims.tee-pubkey');
  // The EAR records init_data in trustee's encoding (base64); release decisions compare hex digests.
  const init = initDataDigestHexFromEar(v.claims);
  return { claims: v.claims, verified: verifiedFromEar(v.claims), teePubkey, ear: token, peerAddress, ...(init ? { initDataDigest: init } : {}) };
}

function requesterFromBearer(deps: HandlerDeps, authorization: string | undefined, peerAddress: string): AttestedRequester | KbsErrorResponse | undefined {
  if (authorization === undefined) return undefined;
  const m = /^Bearer ([^\s]+)$/.exec(authorization);
  if (!m) return kbsError('TokenVerifierError', 'Authorization header must be "Bearer <EAR token>"');
  return requesterFromToken(deps, m[1]!, peerAddress);
}

/**
 * The requester an attested session cookie stands for: this replica's cached session when it attested it,
 * else the EAR the cookie carries, verified like a Bearer token (any replica signs with the shared key).
 */
function requesterFromCookie(deps: HandlerDeps, cookie: string | undefined, peerAddress: string): AttestedRequester | undefined {
  if (!cookie) return undefined;
  const opened = deps.cookies.open(cookie);
  if (!opened.ok || deps.now() >= opened.claims.exp) return undefined;
  const c = opened.claims;
  // An /auth cookie still names the session: a client that kept it gets the session this replica attested.
  const found = deps.sessions.get(c.sid);
  if ('session' in found && found.session.state === 'attested' && found.session.attested && (c.k === 'auth' ? found.session.nonce === c.nonce : c.token === '' || found.session.attested.token === c.token)) {
    const s = found.session.attested;
    return { claims: s.claims, verified: s.verified, teePubkey: s.teePubkey, ear: s.token, peerAddress, ...(s.initDataDigest ? { initDataDigest: s.initDataDigest } : {}) };
  }
  if (c.k !== 'attested' || c.token === '') return undefined;
  const r = requesterFromToken(deps, c.token, peerAddress);
  return 'status' in r ? undefined : r;
}

export async function handleResource(
  deps: HandlerDeps,
  resourcePath: string,
  cookie: string | undefined,
  authorization: string | undefined,
  peerAddress: string,
): Promise<HandlerResponse> {
  let requester = requesterFromCookie(deps, cookie, peerAddress);
  if (!requester) {
    const bearer = requesterFromBearer(deps, authorization, peerAddress);
    if (bearer && 'status' in bearer) {
      const detail = (JSON.parse(bearer.body) as { detail: string }).detail;
      const code = /^(Ear\w+):/.exec(detail)?.[1] ?? 'TokenVerifierError';
      deps.emit({ type: 'release-refused', resourcePath, code, reason: detail, peerAddress });
      return err(kbsError('TokenVerifierError', `${code}: the token was not accepted`));
    }
    requester = bearer;
  }
  if (!requester) return err(kbsError('TokenNotFound', 'Attestation Token not found'));
  const decision = await deps.entitlements.authorize(resourcePath, requester);
  if (!decision.ok) {
    deps.emit({ type: 'release-refused', resourcePath, code: decision.code ?? 'PolicyDeny', reason: decision.reason, peerAddress, ...(decision.agent ? { agent: decision.agent } : {}) });
    return err(kbsError('PolicyDeny', GENERIC_RELEASE_REFUSAL));
  }
  try {
    const jwe = encryptToTeeKey(requester.teePubkey, decision.plaintext);
    deps.emit({ type: 'released', resourcePath, credential: decision.credential, agent: decision.agent, peerAddress, credentialDigest: decision.credentialDigest });
    return json(200, jwe);
  } catch (e) {
    return err(kbsError('JweError', e instanceof JweError ? e.message : 'failed to encrypt the resource to the TEE key'));
  }
}
