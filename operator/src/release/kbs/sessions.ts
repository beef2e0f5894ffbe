// KBS sessions, this replica's ledger of them: the session itself travels in the encrypted cookie
// `kbs-session-id` (session-cookie.ts), so any replica can continue it; what stays here is what makes
// admission and freshness work — the unauthenticated sessions this replica opened (capped per address),
// the nonces consumed on this replica (single use per replica), and a cache of attested sessions (saves
// re-verifying the EAR). Sessions expire a fixed time after /auth (not extended by /attest, as in
// trustee). Consumed nonces are remembered for a while so a replayed attestation is told apart from a
// merely wrong nonce. Memory is bounded (see SessionStore for admission and eviction).
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
  /** Address the /auth came from; its unauthenticated sessions are capped. */
  peerAddress: string;
  expiresAt: number;
  /** authed: nonce unused; consumed: an /attest is in flight; failed: it was refused; attested: token issued. */
  state: 'authed' | 'consumed' | 'failed' | 'attested';
  attested?: AttestedState;
}

export type SessionRefusal = 'TooManyPendingSessions' | 'SessionTableFull';

/** What a cookie opened by another replica (or before a restart) says about its session. */
export interface AdoptedSession {
  id: string;
  tee: string;
  nonce: string;
  peerAddress: string;
  expiresAt: number;
}

export interface SessionLimits {
  ttlSeconds: number;
  /** All sessions, attested or not. */
  maxSessions: number;
  /** Unauthenticated (authed or consumed) sessions per client address. */
  maxPendingPerAddress?: number;
  now: () => number;
}

/**
 * Admission and eviction: unauthenticated sessions are capped per address (a full address first loses its
 * own failed sessions — never one whose /attest is still being verified — then is refused); a full table evicts the oldest unauthenticated session and never an
 * attested one (those are mid-handshake: the client still has to fetch its resource). Sessions live a fixed
 * TTL, so insertion order is expiry order and expired ones are swept from the front in amortized O(1).
 */
export class SessionStore {
  readonly #pending = new Map<string, Session>();
  readonly #attested = new Map<string, Session>();
  readonly #byAddress = new Map<string, Set<Session>>();
  readonly #liveNonces = new Map<string, string>();
  readonly #usedNonces = new Map<string, number>();
  /** Latest consumption time among used nonces dropped before their time (table full). */
  #forgotConsumedAt = -Infinity;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #maxPerAddress: number;
  readonly #now: () => number;

  constructor(opts: SessionLimits) {
    this.#ttlMs = opts.ttlSeconds * 1000;
    this.#max = opts.maxSessions;
    this.#maxPerAddress = opts.maxPendingPerAddress ?? 32;
    this.#now = opts.now;
  }

  get size(): number {
    return this.#pending.size + this.#attested.size;
  }

  /** Unauthenticated sessions held for an address. */
  pendingFor(peerAddress: string): number {
    return this.#byAddress.get(peerAddress)?.size ?? 0;
  }

  create(tee: string, peerAddress = ''): Session | { refused: SessionRefusal } {
    this.#sweep();
    const mine = this.#byAddress.get(peerAddress);
    if (mine && mine.size >= this.#maxPerAddress) {
      const dead = [...mine].find((s) => s.state === 'failed');
      if (!dead) return { refused: 'TooManyPendingSessions' };
      this.#drop(dead);
    }
    if (this.size >= this.#max) {
      const oldest = this.#pending.values().next();
      if (oldest.done) return { refused: 'SessionTableFull' };
      this.#drop(oldest.value);
    }
    const s: Session = {
      id: randomBytes(16).toString('hex'),
      tee,
      nonce: randomBytes(32).toString('base64'),
      peerAddress,
      expiresAt: this.#now() + this.#ttlMs,
      state: 'authed',
    };
    this.#pending.set(s.id, s);
    const set = mine ?? new Set<Session>();
    set.add(s);
    this.#byAddress.set(peerAddress, set);
    this.#liveNonces.set(s.nonce, s.id);
    return s;
  }

  /** The live session for a cookie value, or why there is none. */
  get(id: string | undefined): { session: Session } | { missing: 'NoCookie' | 'UnknownSession' | 'SessionExpired' } {
    if (!id) return { missing: 'NoCookie' };
    const s = this.#pending.get(id) ?? this.#attested.get(id);
    if (!s) return { missing: 'UnknownSession' };
    if (this.#now() >= s.expiresAt) {
      this.#drop(s);
      return { missing: 'SessionExpired' };
    }
    return { session: s };
  }

  /**
   * A session another replica opened (or this one, before a restart), known from its authenticated cookie.
   * Not subject to the per-address cap (the opening replica admitted it) but refused when its nonce was
   * already consumed here: each nonce is accepted at most once per replica.
   */
  adopt(a: AdoptedSession): Session | { refused: 'NonceAlreadyUsed' | 'SessionTableFull' | 'SessionExpired' } {
    this.#sweep();
    if (this.#now() >= a.expiresAt) return { refused: 'SessionExpired' };
    const used = this.#usedNonces.get(a.nonce);
    if (used !== undefined && used > this.#now()) return { refused: 'NonceAlreadyUsed' };
    // Its nonce may have been among the consumed ones forgotten under a flood: refuse rather than allow a
    // second use (a session opened after the last forgotten consumption cannot have been consumed then).
    if (a.expiresAt - this.#ttlMs <= this.#forgotConsumedAt) return { refused: 'NonceAlreadyUsed' };
    const known = this.#pending.get(a.id) ?? this.#attested.get(a.id);
    if (known) return known;
    if (this.size >= this.#max) {
      const oldest = this.#pending.values().next();
      if (oldest.done) return { refused: 'SessionTableFull' };
      this.#drop(oldest.value);
    }
    const s: Session = { ...a, state: 'authed' };
    // Appended, so the table is no longer strictly in expiry order: an adopted session is swept at most
    // one TTL after it expired (get() checks expiry on every use).
    this.#pending.set(s.id, s);
    this.#liveNonces.set(s.nonce, s.id);
    return s;
  }

  /** Marks the session's nonce used (whatever the outcome of the attestation). */
  consume(s: Session): void {
    s.state = 'consumed';
    this.#liveNonces.delete(s.nonce);
    this.#usedNonces.set(s.nonce, this.#now() + 2 * this.#ttlMs);
    for (const n of this.#usedNonces.keys()) {
      if (this.#usedNonces.size <= this.#max * 2) break;
      const until = this.#usedNonces.get(n)!;
      if (until > this.#now()) this.#forgotConsumedAt = Math.max(this.#forgotConsumedAt, until - 2 * this.#ttlMs);
      this.#usedNonces.delete(n);
    }
  }

  /** The /attest was refused: the session is dead weight its address may reclaim (never one in flight). */
  fail(s: Session): void {
    if (s.state === 'consumed') s.state = 'failed';
  }

  /** How a nonce presented in /attest relates to the sessions this server issued. */
  classifyNonce(nonce: string): 'used' | 'other-session' | 'unknown' {
    const used = this.#usedNonces.get(nonce);
    if (used !== undefined && used > this.#now()) return 'used';
    return this.#liveNonces.has(nonce) ? 'other-session' : 'unknown';
  }

  attest(s: Session, state: AttestedState): void {
    if (!this.#pending.delete(s.id)) return; // evicted while verifying: the token is still returned, not kept
    this.#forgetAddress(s);
    s.state = 'attested';
    s.attested = state;
    this.#attested.set(s.id, s);
  }

  #forgetAddress(s: Session): void {
    const set = this.#byAddress.get(s.peerAddress);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.#byAddress.delete(s.peerAddress);
  }

  #drop(s: Session): void {
    this.#pending.delete(s.id);
    this.#attested.delete(s.id);
    this.#forgetAddress(s);
    this.#liveNonces.delete(s.nonce);
  }

  #sweep(): void {
    const now = this.#now();
    for (const table of [this.#pending, this.#attested]) {
      for (const s of table.values()) {
        if (now < s.expiresAt) break;
        this.#drop(s);
      }
    }
    for (const [n, until] of this.#usedNonces) {
      if (until > now) break;
      this.#usedNonces.delete(n);
    }
  }
}
