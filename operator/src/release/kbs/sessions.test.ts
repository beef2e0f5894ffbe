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
