// EAR attestation-result tokens in trustee's layout (eat_profile, iat, exp, ear.verifier-id, submods with
// ear.status / ear.trustworthiness-vector / ear.veraison.annotated-evidence incl. runtime_data_claims), signed
// ES256 by an operator key whose public JWK rides in the `jwk` header. Verification never trusts that header:
// the key must be one of the caller's trusted keys.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { signRawEcdsa, trustedEcPublicKey, verifyRawEcdsa } from '../../protocol/ecdsa-signature.ts';
import type { TeePubKey } from '../../protocol/tee-key.ts';
import { parseTeePubKey } from '../../protocol/tee-key.ts';
import type { JsonValue, TeeType, VerifiedEvidence } from '../verifier.ts';
import type { Appraisal } from './appraise.ts';
import type { EarStatus, TrustVector } from './trust-vector.ts';

export const EAT_PROFILE = 'tag:github.com,2024:confidential-containers/Trustee';
export const EAR_ISSUER = 'confidential-agent-operator';
const TEE_KEYS = new Set<string>(['sample', 'sampledevice', 'tdx', 'nvidia']);

export interface EcPublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

export interface EarSubmod {
  'ear.status': EarStatus;
  'ear.trustworthiness-vector': TrustVector;
  'ear.appraisal-policy-id': string;
  'ear.veraison.annotated-evidence': Record<string, JsonValue>;
}

export interface EarClaims {
  eat_profile: string;
  iat: number;
  exp: number;
  iss: string;
  'ear.verifier-id': { developer: string; build: string };
  submods: Record<string, EarSubmod>;
}

export interface EarRuntimeData {
  nonce: string;
  teePubkey: TeePubKey;
  additionalEvidence?: string;
}

/**
 * Init-data as trustee's AS records it: `init_data` is the standard base64 of the digest, `init_data_claims`
 * the init-data's `[data]` table (empty when only a digest was given).
 */
export interface EarInitData {
  digest: Uint8Array;
  claims?: Record<string, JsonValue>;
}

export function buildEarClaims(
  appraisal: Appraisal,
  opts: {
    policyId: string;
    /** KBS runtime data ({nonce, tee-pubkey, additional-evidence}) or, for the restful AS, the structured runtime data as sent. */
    runtimeData: EarRuntimeData | { claims: Record<string, JsonValue> };
    at: Date;
    ttlSeconds?: number;
    initData?: EarInitData;
  },
): EarClaims {
  const iat = Math.floor(opts.at.getTime() / 1000);
  const submods: Record<string, EarSubmod> = {};
  for (const m of appraisal.submods) {
    const annotated: Record<string, JsonValue> = {};
    if (m.evidence) annotated[m.evidence.tee] = m.evidence.claims;
    if (m.teeClass === 'cpu' && m.name === 'cpu0') {
      const rd = m.evidence?.claims['report_data'];
      if (rd !== undefined) annotated['report_data'] = rd;
      annotated['runtime_data_claims'] = runtimeDataClaims(opts.runtimeData);
      if (opts.initData) {
        annotated['init_data'] = Buffer.from(opts.initData.digest).toString('base64');
        annotated['init_data_claims'] = { ...(opts.initData.claims ?? {}) };
      }
    }
    submods[m.name] = {
      'ear.status': m.status,
      'ear.trustworthiness-vector': { ...m.vector },
      'ear.appraisal-policy-id': opts.policyId,
      'ear.veraison.annotated-evidence': annotated,
    };
  }
  return {
    eat_profile: EAT_PROFILE,
    iat,
    exp: iat + (opts.ttlSeconds ?? 300),
    iss: EAR_ISSUER,
    'ear.verifier-id': { developer: 'https://confidential-agent.io', build: 'confidential-agent-operator 0.1.0' },
    submods,
  };
}

function runtimeDataClaims(rd: EarRuntimeData | { claims: Record<string, JsonValue> }): Record<string, JsonValue> {
  if ('claims' in rd) return { ...rd.claims };
  const rdc: Record<string, JsonValue> = { nonce: rd.nonce, 'tee-pubkey': { ...rd.teePubkey } };
  if (rd.additionalEvidence !== undefined) rdc['additional-evidence'] = rd.additionalEvidence;
  return rdc;
}

/** The init-data digest an EAR records (`init_data`, standard base64), as hex; undefined when absent or not base64. */
export function initDataDigestHexFromEar(claims: EarClaims): string | undefined {
  const init = claims.submods['cpu0']?.['ear.veraison.annotated-evidence']?.['init_data'];
  if (typeof init !== 'string' || init.length === 0 || init.length > 128 || !/^[A-Za-z0-9+/]+={0,2}$/.test(init)) return undefined;
  return Buffer.from(init, 'base64').toString('hex');
}

const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** RFC 7638 thumbprint of a P-256 JWK (identifies the signing key without exposing anything secret). */
export function jwkThumbprint(jwk: EcPublicJwk): string {
  return createHash('sha256').update(`{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`).digest('base64url');
}

/** The operator's EAR signing key (P-256). Keep the PEM in a Secret to survive restarts. */
export class EarSigner {
  readonly publicJwk: EcPublicJwk;
  readonly keyId: string;
  readonly #key: KeyObject;

  constructor(privateKey: KeyObject) {
    if (privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new TypeError('EAR signing key must be an EC P-256 private key');
    this.#key = privateKey;
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
    this.publicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
    this.keyId = jwkThumbprint(this.publicJwk);
  }

  static generate(): EarSigner {
    return new EarSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
  }

  static fromPem(pem: string): EarSigner {
    return new EarSigner(createPrivateKey(pem));
  }

  privateKeyPem(): string {
    return this.#key.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  /**
   * Compact JWS. `x5c` (DER certificates, leaf first) rides in the header jwk as TNG reads it: base64url
   * without padding, the leaf certifying this key and chaining to an anchor the verifier holds.
   */
  sign(claims: EarClaims, opts: { x5c?: readonly Uint8Array[] } = {}): string {
    return this.signJson(claims, opts);
  }

  /** ES256 compact JWS of any JSON payload with this key's jwk (and optional x5c) in the header. */
  signJson(payload: object, opts: { x5c?: readonly Uint8Array[] } = {}): string {
    const jwk: Record<string, unknown> = { ...this.publicJwk, alg: 'ES256' };
    if (opts.x5c && opts.x5c.length > 0) jwk['x5c'] = opts.x5c.map((der) => Buffer.from(der).toString('base64url'));
    const header = { alg: 'ES256', typ: 'JWT', jwk };
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
    const sig = signRawEcdsa('sha256', Buffer.from(input, 'ascii'), this.#key, 32);
    return `${input}.${sig.toString('base64url')}`;
  }
}

export type EarVerifyCode = 'EarMalformed' | 'EarUnsupportedAlgorithm' | 'EarUntrustedKey' | 'EarBadSignature' | 'EarExpired' | 'EarWrongProfile';
export type EarVerification = { ok: true; claims: EarClaims; keyId: string } | { ok: false; code: EarVerifyCode; message: string };

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function decodeJson(segment: string): unknown {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

/** Verifies an EAR JWT against `trustedKeys` (never the embedded header key alone) at time `at`. */
export function verifyEar(token: string, trustedKeys: EcPublicJwk[], at: Date, leewaySeconds = 60): EarVerification {
  const fail = (code: EarVerifyCode, message: string): EarVerification => ({ ok: false, code, message });
  if (typeof token !== 'string' || token.length > 65536) return fail('EarMalformed', 'token is not a string of at most 64 KiB');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return fail('EarMalformed', 'token is not a compact JWS (three base64url segments)');
  let header: unknown;
  let claims: unknown;
  try {
    header = decodeJson(parts[0]!);
    claims = decodeJson(parts[1]!);
  } catch {
    return fail('EarMalformed', 'token header or payload is not base64url JSON');
  }
  if (typeof header !== 'object' || header === null || (header as Record<string, unknown>)['alg'] !== 'ES256') {
    return fail('EarUnsupportedAlgorithm', 'token alg must be ES256');
  }
  const hjwk = (header as Record<string, unknown>)['jwk'] as Record<string, unknown> | undefined;
  const candidates = hjwk && typeof hjwk === 'object' ? trustedKeys.filter((k) => k.x === hjwk['x'] && k.y === hjwk['y']) : trustedKeys;
  if (candidates.length === 0) return fail('EarUntrustedKey', 'token was signed by a key this operator does not trust');
  const sig = Buffer.from(parts[2]!, 'base64url');
  const data = Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii');
  const key = candidates.find((k) => {
    try {
      return verifyRawEcdsa('sha256', data, trustedEcPublicKey(k), sig, 32);
    } catch {
      return false;
    }
  });
  if (!key) return fail(hjwk ? 'EarBadSignature' : 'EarUntrustedKey', 'token signature does not verify with a trusted key');
  if (typeof claims !== 'object' || claims === null) return fail('EarMalformed', 'token payload is not a JSON object');
  const c = claims as Partial<EarClaims>;
  if (c.eat_profile !== EAT_PROFILE) return fail('EarWrongProfile', `eat_profile must be ${EAT_PROFILE}`);
  if (typeof c.exp !== 'number' || typeof c.iat !== 'number' || typeof c.submods !== 'object' || c.submods === null) {
    return fail('EarMalformed', 'token lacks numeric iat/exp or submods');
  }
  const now = at.getTime() / 1000;
  if (now > c.exp + leewaySeconds) return fail('EarExpired', 'token has expired');
  if (now + leewaySeconds < c.iat) return fail('EarExpired', 'token is issued in the future');
  return { ok: true, claims: c as EarClaims, keyId: jwkThumbprint(key) };
}

/** The TEE key at /submods/cpu0/ear.veraison.annotated-evidence/runtime_data_claims/tee-pubkey (where KBS looks). */
export function teePubkeyFromEar(claims: EarClaims): TeePubKey | undefined {
  const rdc = claims.submods['cpu0']?.['ear.veraison.annotated-evidence']?.['runtime_data_claims'];
  if (typeof rdc !== 'object' || rdc === null || Array.isArray(rdc)) return undefined;
  const parsed = parseTeePubKey(rdc['tee-pubkey']);
  return parsed.ok ? parsed.key : undefined;
}

/** Rebuilds the verified evidences an EAR was appraised on (for Bearer-token requests). */
export function verifiedFromEar(claims: EarClaims): VerifiedEvidence[] {
  const out: VerifiedEvidence[] = [];
  for (const [name, sub] of Object.entries(claims.submods)) {
    const teeClass = name.startsWith('cpu') ? 'cpu' : 'gpu';
    for (const [k, v] of Object.entries(sub['ear.veraison.annotated-evidence'] ?? {})) {
      if (TEE_KEYS.has(k) && typeof v === 'object' && v !== null && !Array.isArray(v)) {
        out.push({ tee: k as TeeType, teeClass, claims: v, warnings: [] });
      }
    }
  }
  return out.sort((a, b) => (a.teeClass === b.teeClass ? 0 : a.teeClass === 'cpu' ? -1 : 1));
}
