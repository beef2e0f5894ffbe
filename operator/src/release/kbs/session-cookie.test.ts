// The session cookie's parser of decrypted claims: authenticated bytes, still parsed strictly (a key holder
// that writes other shapes, e.g. an older or newer replica, gets CookieMalformed, never a half-read session).
import { describe, expect, it } from 'vitest';
import { generateSessionKey, MAX_COOKIE_CHARS, SessionCookies, type CookieClaims } from './session-cookie.ts';

const cookies = new SessionCookies({ current: generateSessionKey() });
const roundTrip = (claims: unknown) => cookies.open(cookies.seal(claims as CookieClaims));

describe('SessionCookies claims', () => {
  it('opens both cookie kinds it sealed', () => {
    const auth = { k: 'auth', sid: 's', tee: 'sample', nonce: 'n', peer: '10.0.0.1', exp: 1 } as const;
    const attested = { k: 'attested', sid: 's', exp: 1, token: 't' } as const;
    expect(roundTrip(auth)).toEqual({ ok: true, claims: auth });
    expect(roundTrip(attested)).toEqual({ ok: true, claims: attested });
  });

  it('refuses authenticated claims of any other shape as CookieMalformed', () => {
    const auth = { k: 'auth', sid: 's', tee: 'sample', nonce: 'n', peer: '10.0.0.1', exp: 1 };
    for (const bad of [
      null,
      'auth',
      42,
      { ...auth, sid: 7 },
      { ...auth, exp: '1' },
      { ...auth, tee: 1 },
      { ...auth, nonce: null },
      { ...auth, peer: undefined },
      { ...auth, k: 'other' },
      { k: 'attested', sid: 's', exp: 1 },
      { k: 'attested', sid: 's', exp: 1, token: 5 },
      { k: 'other', sid: 's', exp: 1, token: 't' },
    ]) {
      expect(roundTrip(bad), JSON.stringify(bad)).toEqual({ ok: false, code: 'CookieMalformed' });
    }
  });
});

describe('SessionCookies.open framing', () => {
  const sealed = cookies.seal({ k: 'attested', sid: 's', exp: 1, token: 't' });
  const [, kid] = sealed.split('.') as [string, string];
  const body = (n: number) => `v1.${kid}.${Buffer.alloc(n, 7).toString('base64url')}`;

  it('refuses a fourth part, a body shorter than IV + 2 + tag, and tells tampering from malformation', () => {
    expect(cookies.open(`${sealed}.x`)).toEqual({ ok: false, code: 'CookieMalformed' });
    expect(cookies.open(body(12 + 2 + 16 - 1))).toEqual({ ok: false, code: 'CookieMalformed' });
    expect(cookies.open(body(12 + 2 + 16))).toEqual({ ok: false, code: 'CookieTampered' });
  });

  it('refuses a cookie longer than MAX_COOKIE_CHARS even when it is genuine', () => {
    const big = cookies.seal({ k: 'attested', sid: 's', exp: 1, token: 't'.repeat(MAX_COOKIE_CHARS) });
    expect(big.length).toBeGreaterThan(MAX_COOKIE_CHARS);
    expect(cookies.open(big)).toEqual({ ok: false, code: 'CookieMalformed' });
  });
});
