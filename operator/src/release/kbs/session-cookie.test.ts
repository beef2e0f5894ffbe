// The session cookie's parser of decrypted claims: authenticated bytes, still parsed strictly (a key holder
// that writes other shapes, e.g. an older or newer replica, gets CookieMalformed, never a half-read session).
import { describe, expect, it } from 'vitest';
import { generateSessionKey, SessionCookies, type CookieClaims } from './session-cookie.ts';

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
    ]) {
      expect(roundTrip(bad), JSON.stringify(bad)).toEqual({ ok: false, code: 'CookieMalformed' });
    }
  });
});
