import { describe, expect, it } from 'vitest';
import { LogLimiter } from './server.ts';
import { SessionStore, type Session } from './sessions.ts';

const made = (s: Session | { refused: string }): Session => {
  if ('refused' in s) throw new Error(`refused: ${s.refused}`);
  return s;
};

describe('SessionStore', () => {
  it('expires, consumes nonces once, tells replays from mismatches and stays bounded', () => {
    let t = 0;
    const s = new SessionStore({ ttlSeconds: 10, maxSessions: 3, now: () => t });
    const a = made(s.create('sample'));
    expect(a.id).toMatch(/^[0-9a-f]{32}$/);
    expect(s.classifyNonce(a.nonce)).toBe('other-session');
    s.consume(a);
    expect(a.state).toBe('consumed');
    expect(s.get(a.id)).toEqual({ session: expect.objectContaining({ state: 'consumed' }) });
    expect(s.classifyNonce(a.nonce)).toBe('used');
    expect(s.classifyNonce('never')).toBe('unknown');
    for (let i = 0; i < 10; i++) s.create('sample', `10.0.0.${i}`);
    expect(s.size).toBeLessThanOrEqual(3);
    const b = made(s.create('sample'));
    t += 10_000;
    expect(s.get(b.id)).toEqual({ missing: 'SessionExpired' });
    expect(s.get(undefined)).toEqual({ missing: 'NoCookie' });
    expect(s.get('f'.repeat(32))).toEqual({ missing: 'UnknownSession' });
    // an expired used nonce is forgotten
    t += 20_000;
    s.create('sample');
    expect(s.classifyNonce(a.nonce)).toBe('unknown');
  });

  it('caps unauthenticated sessions per address: a full address first loses its failed sessions, then is refused', () => {
    const s = new SessionStore({ ttlSeconds: 60, maxSessions: 100, maxPendingPerAddress: 3, now: () => 0 });
    const first = made(s.create('sample', '10.0.0.1'));
    made(s.create('sample', '10.0.0.1'));
    const failed = made(s.create('sample', '10.0.0.1'));
    s.consume(failed);
    // in flight (being verified): not reclaimable
    expect(s.create('sample', '10.0.0.1')).toEqual({ refused: 'TooManyPendingSessions' });
    s.fail(failed);
    made(s.create('sample', '10.0.0.1')); // takes the failed session's place
    expect(s.get(failed.id)).toEqual({ missing: 'UnknownSession' });
    expect(s.create('sample', '10.0.0.1')).toEqual({ refused: 'TooManyPendingSessions' });
    expect(s.get(first.id)).toEqual({ session: first });
    expect(made(s.create('sample', '10.0.0.2')).peerAddress).toBe('10.0.0.2');
    // an attested session no longer counts against its address
    s.consume(first);
    s.attest(first, { token: 't' } as never);
    expect(s.pendingFor('10.0.0.1')).toBe(2);
    made(s.create('sample', '10.0.0.1'));
  });

  it('a full table evicts the oldest unauthenticated session, never an attested one', () => {
    const s = new SessionStore({ ttlSeconds: 60, maxSessions: 3, maxPendingPerAddress: 100, now: () => 0 });
    const attested = [made(s.create('sample', 'a')), made(s.create('sample', 'a'))];
    for (const a of attested) {
      s.consume(a);
      s.attest(a, { token: 't' } as never);
    }
    const pending = made(s.create('sample', 'b'));
    const newer = made(s.create('sample', 'b'));
    expect(s.get(pending.id)).toEqual({ missing: 'UnknownSession' });
    for (const a of attested) expect(s.get(a.id)).toEqual({ session: a });
    s.consume(newer);
    s.attest(newer, { token: 't' } as never);
    expect(s.create('sample', 'c')).toEqual({ refused: 'SessionTableFull' });
    expect(s.size).toBe(3);
  });
});

describe('LogLimiter', () => {
  it('lets `max` lines per key and window through and reports how many it dropped in the next one', () => {
    const l = new LogLimiter(2, 1000);
    expect([l.admit('a', 0), l.admit('a', 1), l.admit('a', 2), l.admit('a', 3), l.admit('b', 3)]).toEqual([0, 0, undefined, undefined, 0]);
    expect([l.admit('a', 1000), l.admit('a', 1001), l.admit('a', 1002)]).toEqual([2, 0, undefined]);
  });
});

describe('SessionStore edges (mutation survivors)', () => {
  const foreign = { id: 'f1', tee: 'sample', nonce: 'F1', peerAddress: '10.0.0.9' };

  it('defaults: no address is the empty address; an unknown address holds nothing', () => {
    const s = new SessionStore({ ttlSeconds: 10, maxSessions: 3, now: () => 0 });
    expect(made(s.create('sample')).peerAddress).toBe('');
    expect(s.pendingFor('nobody')).toBe(0);
  });

  it('expired sessions stop counting from their expiry instant: against the address, the table, and as live nonces', () => {
    let t = 0;
    const s = new SessionStore({ ttlSeconds: 10, maxSessions: 1, maxPendingPerAddress: 1, now: () => t });
    const a = made(s.create('sample', '10.0.0.1'));
    t = 10_000; // exactly a's expiry
    expect(made(s.create('sample', '10.0.0.1')).id).not.toBe(a.id);
    expect(s.classifyNonce(a.nonce)).toBe('unknown');
    // get() on an expired session drops it at once (no sweep needed)
    const b = made(s.create('sample', '10.0.0.2'));
    t = 20_000;
    expect(s.get(b.id)).toEqual({ missing: 'SessionExpired' });
    expect([s.pendingFor('10.0.0.2'), s.size, s.classifyNonce(b.nonce)]).toEqual([0, 0, 'unknown']);
  });

  it('an expired attested session leaves the table', () => {
    let t = 0;
    const s = new SessionStore({ ttlSeconds: 10, maxSessions: 1, now: () => t });
    const a = made(s.create('sample', 'x'));
    s.consume(a);
    s.attest(a, { token: 't' } as never);
    t = 10_000;
    expect(s.get(a.id)).toEqual({ missing: 'SessionExpired' });
    expect(made(s.create('sample', 'x')).state).toBe('authed');
    // and without get(): the sweep in adopt() clears it too
    const b = made(s.create('sample', 'x'));
    s.consume(b);
    s.attest(b, { token: 't' } as never);
    t = 20_000;
    expect(made(s.adopt({ ...foreign, expiresAt: 30_000 })).id).toBe('f1');
  });

  it('a used nonce is remembered for 2 TTL, to the millisecond', () => {
    let t = 0;
    const s = new SessionStore({ ttlSeconds: 10, maxSessions: 3, now: () => t });
    const a = made(s.create('sample'));
    s.consume(a);
    t = 19_999;
    expect(s.classifyNonce(a.nonce)).toBe('used');
    t = 20_000;
    expect(s.classifyNonce(a.nonce)).toBe('unknown');
  });

  it('fail() only touches a session whose /attest is in flight', () => {
    const s = new SessionStore({ ttlSeconds: 10, maxSessions: 3, now: () => 0 });
    const a = made(s.create('sample'));
    s.fail(a);
    expect(a.state).toBe('authed');
    s.consume(a);
    s.attest(a, { token: 't' } as never);
    s.fail(a);
    expect(a.state).toBe('attested');
  });

  it('adopt: the same object for a known session, live and findable once adopted, refused at its expiry instant', () => {
    let t = 0;
    const s = new SessionStore({ ttlSeconds: 10, maxSessions: 3, now: () => t });
    const adopted = made(s.adopt({ ...foreign, expiresAt: 10_000 }));
    expect(s.adopt({ ...foreign, expiresAt: 10_000 })).toBe(adopted);
    expect(s.get('f1')).toEqual({ session: adopted });
    expect(s.classifyNonce('F1')).toBe('other-session');
    const own = made(s.create('sample'));
    expect(s.adopt({ id: own.id, tee: 'sample', nonce: own.nonce, peerAddress: '', expiresAt: own.expiresAt })).toBe(own);
    t = 10_000;
    expect(s.adopt({ ...foreign, id: 'f2', nonce: 'F2', expiresAt: 10_000 })).toEqual({ refused: 'SessionExpired' });
  });

  it('adopt into a full table evicts the oldest unauthenticated session, or is refused when all are attested', () => {
    const s = new SessionStore({ ttlSeconds: 10, maxSessions: 1, now: () => 0 });
    const a = made(s.create('sample'));
    made(s.adopt({ ...foreign, expiresAt: 10_000 }));
    expect(s.get(a.id)).toEqual({ missing: 'UnknownSession' });
    expect(s.size).toBe(1);
    const full = new SessionStore({ ttlSeconds: 10, maxSessions: 1, now: () => 0 });
    const b = made(full.create('sample'));
    full.consume(b);
    full.attest(b, { token: 't' } as never);
    expect(full.adopt({ ...foreign, expiresAt: 10_000 })).toEqual({ refused: 'SessionTableFull' });
  });

  it('remembers 2 × maxSessions used nonces; a session opened no later than a forgotten consumption is refused', () => {
    const s = new SessionStore({ ttlSeconds: 10, maxSessions: 1, now: () => 0 });
    const nonces = ['N1', 'N2', 'N3'];
    const sessions = nonces.map((n, i) => made(s.adopt({ id: `s${i}`, tee: 'sample', nonce: n, peerAddress: 'p', expiresAt: 10_000 })));
    s.consume(sessions[0]!);
    s.consume(sessions[1]!);
    expect(nonces.map((n) => s.classifyNonce(n))).toEqual(['used', 'used', 'other-session']); // N3's session is the live one
    s.consume(sessions[2]!); // a third: N1 is forgotten
    expect(nonces.map((n) => s.classifyNonce(n))).toEqual(['unknown', 'used', 'used']);
    // opened at 0 (expires at 10 s), when N1 was consumed: it might be N1's session, so it is refused
    expect(s.adopt({ id: 'again', tee: 'sample', nonce: 'N1', peerAddress: 'p', expiresAt: 10_000 })).toEqual({ refused: 'NonceAlreadyUsed' });
  });
});
