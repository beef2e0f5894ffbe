import { describe, expect, it } from 'vitest';
import { checkUrlAllowed, describeUrl, EgressError, parseUrlPrefixes } from './egress.ts';

const rekor = parseUrlPrefixes(['https://rekor.sigstore.dev', 'http://127.0.0.1:8080/logs/a/'], '--allowed-rekor-urls');
const allowed = (u: string) => checkUrlAllowed(u, rekor).ok;

describe('URL allow-list', () => {
  it('accepts the prefix itself and paths under it', () => {
    expect(allowed('https://rekor.sigstore.dev')).toBe(true);
    expect(allowed('https://rekor.sigstore.dev/')).toBe(true);
    expect(allowed('https://REKOR.sigstore.dev:443/api')).toBe(true); // normalised host case and default port
    expect(allowed('http://127.0.0.1:8080/logs/a')).toBe(true);
    expect(allowed('http://127.0.0.1:8080/logs/a/x/y')).toBe(true);
  });

  it.each([
    ['a look-alike host', 'https://rekor.sigstore.dev.evil.example'],
    ['credentials before the host', 'https://rekor.sigstore.dev@evil.example/'],
    ['credentials on an allowed host', 'https://user:pw@rekor.sigstore.dev/'],
    ['another scheme', 'http://rekor.sigstore.dev/'],
    ['another port', 'https://rekor.sigstore.dev:8443/'],
    ['a path prefix that is not a segment', 'http://127.0.0.1:8080/logs/ab'],
    ['dot segments climbing out of the prefix', 'http://127.0.0.1:8080/logs/a/../b'],
    ['a parent path', 'http://127.0.0.1:8080/logs/'],
    ['not a URL', 'rekor.sigstore.dev'],
  ])('refuses %s', (_why, url) => {
    const v = checkUrlAllowed(url, rekor);
    expect(v.ok).toBe(false);
  });

  it('names the prefixes and the rule when refusing', () => {
    const v = checkUrlAllowed('https://internal.corp/api', rekor);
    expect(v).toMatchObject({ ok: false });
    if (!v.ok) expect(v.why).toContain('https://rekor.sigstore.dev/, http://127.0.0.1:8080/logs/a/');
    const empty = checkUrlAllowed('https://rekor.sigstore.dev', []);
    if (!empty.ok) expect(empty.why).toContain('empty');
  });

  it.each([
    ['not a URL', 'nope'],
    ['a non-http scheme', 'file:///etc/passwd'],
    ['credentials', 'https://u:p@rekor.sigstore.dev'],
    ['a query', 'https://rekor.sigstore.dev/?x=1'],
  ])('refuses an allow-list entry with %s, naming the flag', (_why, entry) => {
    expect(() => parseUrlPrefixes([entry], '--allowed-pccs-urls')).toThrow(EgressError);
    expect(() => parseUrlPrefixes([entry], '--allowed-pccs-urls')).toThrow(/--allowed-pccs-urls/);
  });

  it('describes URLs without credentials, query or fragment', () => {
    expect(describeUrl('https://u:secret@h.example/p?token=abc#f')).toBe('https://h.example/p');
    expect(describeUrl('::')).toBe('(invalid URL)');
  });
});
