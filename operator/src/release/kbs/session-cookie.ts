// The KBS session as an authenticated, encrypted cookie (AES-256-GCM), so that any replica holding the
// session keys can continue a handshake another replica began, or one that died. The cookie carries what
// /attest and /resource need: after /auth the session id, TEE type, nonce, the requester's address and the
// expiry; after /attest the EAR token (which carries the TEE key and the appraised evidence, and is
// verified again against the EAR keys when a replica that did not issue it sees it). Freshness stays with
// the replicas: each remembers the nonces consumed on it (sessions.ts), and what a replayed cookie can
// still get is documented in docs/secret-release.md ("Sessions across replicas").
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

/** 32-byte AES keys: new cookies are sealed with `current`; `previous` still opens (rotation). */
export interface SessionKeys {
  current: Buffer;
  previous?: Buffer;
}

export type CookieClaims =
  | { k: 'auth'; sid: string; tee: string; nonce: string; peer: string; exp: number }
  | { k: 'attested'; sid: string; exp: number; token: string };

export type CookieRefusal = 'CookieMalformed' | 'CookieUnknownKey' | 'CookieTampered';

export type OpenedCookie = { ok: true; claims: CookieClaims } | { ok: false; code: CookieRefusal };

const VERSION = 'v1';
/** Longest cookie value opened (an attested cookie holds an EAR of a few KB). */
export const MAX_COOKIE_CHARS = 24 * 1024;

export function sessionKeyId(key: Buffer): string {
  return createHash('sha256').update('kbs-session-cookie\0').update(key).digest('base64url').slice(0, 10);
}

export function generateSessionKey(): Buffer {
  return randomBytes(32);
}

const isString = (v: unknown): v is string => typeof v === 'string';

function claimsFrom(v: unknown): CookieClaims | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (!isString(o['sid']) || typeof o['exp'] !== 'number') return undefined;
  if (o['k'] === 'auth' && isString(o['tee']) && isString(o['nonce']) && isString(o['peer'])) {
    return { k: 'auth', sid: o['sid'], tee: o['tee'], nonce: o['nonce'], peer: o['peer'], exp: o['exp'] };
  }
  if (o['k'] === 'attested' && isString(o['token'])) return { k: 'attested', sid: o['sid'], exp: o['exp'], token: o['token'] };
  return undefined;
}

export class SessionCookies {
  // KeyObjects: node:crypto spends 3× longer per cipher when given a raw Buffer key (bench:kbs).
  #seal!: { kid: string; key: KeyObject };
  #open = new Map<string, KeyObject>();

  constructor(keys: SessionKeys) {
    this.setKeys(keys);
  }

  setKeys(keys: SessionKeys): void {
    for (const k of [keys.current, keys.previous]) if (k !== undefined && k.length !== 32) throw new RangeError(`session keys are 32 bytes, got ${k.length}`);
    const open = new Map<string, KeyObject>();
    const current = createSecretKey(keys.current);
    open.set(sessionKeyId(keys.current), current);
    if (keys.previous) open.set(sessionKeyId(keys.previous), createSecretKey(keys.previous));
    this.#seal = { kid: sessionKeyId(keys.current), key: current };
    this.#open = open;
  }

  /** `v1.<key id>.<base64url(iv ‖ ciphertext ‖ tag)>`; the version and key id are authenticated too. */
  seal(claims: CookieClaims): string {
    const { kid, key } = this.#seal;
    const plain = Buffer.from(JSON.stringify(claims));
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(`${VERSION}.${kid}`));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    return `${VERSION}.${kid}.${Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url')}`;
  }

  open(value: string): OpenedCookie {
    if (value.length > MAX_COOKIE_CHARS) return { ok: false, code: 'CookieMalformed' };
    const parts = value.split('.');
    if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, code: 'CookieMalformed' };
    const [, kid = '', body = ''] = parts;
    const key = this.#open.get(kid);
    if (!key) return { ok: false, code: 'CookieUnknownKey' };
    const raw = Buffer.from(body, 'base64url');
    if (raw.length < 12 + 2 + 16) return { ok: false, code: 'CookieMalformed' };
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(`${VERSION}.${kid}`));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
    } catch {
      return { ok: false, code: 'CookieTampered' };
    }
    // Authenticated from here on: only a holder of the session key wrote it. Still parsed defensively.
    try {
      const claims = claimsFrom(JSON.parse(plain.toString('utf8')));
      return claims ? { ok: true, claims } : { ok: false, code: 'CookieMalformed' };
    } catch {
      return { ok: false, code: 'CookieMalformed' };
    }
  }
}
