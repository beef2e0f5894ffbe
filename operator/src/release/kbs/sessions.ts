// KBS sessions (cookie `kbs-session-id`): Authed with a single-use nonce, then Attested with the EAR and
// what it was built from. Sessions expire a fixed time after /auth (not extended by /attest, as in trustee).
// Memory is bounded: the oldest sessions are evicted when the table is full. Consumed nonces are remembered
// for a while so a replayed attestation is told apart from a merely wrong nonce.
import { randomBytes } from 'node:crypto';
import type { Appraisal } from '../../attestation/policy/appraise.ts';
import type { EarClaims } from '../../attestation/policy/ear.ts';
import type { VerifiedEvidence } from '../../attestation/verifier.ts';
import type { TeePubKey } from '../../protocol/tee-key.ts';

export interface AttestedState {
  token: string;
  claims: EarClaims;
  verified: VerifiedEvidence[];
  teePubkey: TeePubKey;
  appraisal: Appraisal;
  policyId: string;
  initDataDigest?: string;
}

export interface Session {
  id: string;
  tee: string;
  nonce: string;
  expiresAt: number;
  /** authed: nonce unused; consumed: an /attest is in flight or failed; attested: token issued. */
  state: 'authed' | 'consumed' | 'attested';
  attested?: AttestedState;
}

export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly #liveNonces = new Map<string, string>();
  readonly #usedNonces = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(opts: { ttlSeconds: number; maxSessions: number; now: () => number }) {
    this.#ttlMs = opts.ttlSeconds * 1000;
    this.#max = opts.maxSessions;
    this.#now = opts.now;
  }

  get size(): number {
    return this.#sessions.size;
  }

  create(tee: string): Session {
    this.#evict();
    const s: Session = {
      id: randomBytes(16).toString('hex'),
      tee,
      nonce: randomBytes(32).toString('base64'),
      expiresAt: this.#now() + this.#ttlMs,
      state: 'authed',
    };
    this.#sessions.set(s.id, s);
    this.#liveNonces.set(s.nonce, s.id);
    return s;
  }

  /** The live session for a cookie value, or why there is none. */
  get(id: string | undefined): { session: Session } | { missing: 'NoCookie' | 'UnknownSession' | 'SessionExpired' } {
    if (!id) return { missing: 'NoCookie' };
    const s = this.#sessions.get(id);
    if (!s) return { missing: 'UnknownSession' };
    if (this.#now() >= s.expiresAt) {
      this.#drop(s);
      return { missing: 'SessionExpired' };
    }
    return { session: s };
  }

  /** Marks the session's nonce used (whatever the outcome of the attestation). */
  consume(s: Session): void {
    s.state = 'consumed';
    this.#liveNonces.delete(s.nonce);
    this.#usedNonces.set(s.nonce, this.#now() + 2 * this.#ttlMs);
  }

  /** How a nonce presented in /attest relates to the sessions this server issued. */
  classifyNonce(nonce: string): 'used' | 'other-session' | 'unknown' {
    const used = this.#usedNonces.get(nonce);
    if (used !== undefined && used > this.#now()) return 'used';
    return this.#liveNonces.has(nonce) ? 'other-session' : 'unknown';
  }

  attest(s: Session, state: AttestedState): void {
    s.state = 'attested';
    s.attested = state;
  }

  #drop(s: Session): void {
    this.#sessions.delete(s.id);
    this.#liveNonces.delete(s.nonce);
  }

  #evict(): void {
    if (this.#sessions.size < this.#max && this.#usedNonces.size < this.#max * 2) return;
    const now = this.#now();
    for (const s of this.#sessions.values()) if (now >= s.expiresAt) this.#drop(s);
    for (const [n, until] of this.#usedNonces) if (until <= now) this.#usedNonces.delete(n);
    // Still full: drop the oldest (Map keeps insertion order).
    for (const s of this.#sessions.values()) {
      if (this.#sessions.size < this.#max) break;
      this.#drop(s);
    }
    for (const n of this.#usedNonces.keys()) {
      if (this.#usedNonces.size < this.#max * 2) break;
      this.#usedNonces.delete(n);
    }
  }
}
