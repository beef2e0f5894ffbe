// Sealed-credential fuzz (issue 15, item 3): every bit of an envelope flipped, every truncation, every
// scope field swapped, base64-level garbage, and re-encryption under keys the keyring no longer (or still)
// holds. Nothing but the genuine envelope for its own scope opens; every refusal is one of the four codes.
import { describe, expect, it } from 'vitest';
import { createKeyring, rotateKeyring, SealingKeyring } from './keyring.ts';
import { seal, unseal, type SealScope, type UnsealCode } from './envelope.ts';

const SCOPE: SealScope = { namespace: 'team-a', name: 'db-password', mode: 'Strict', agents: ['bot-1', 'bot-2'], resourcePath: 'default/team-a/db' };
const VALUE = Buffer.from('s3cret-value-9f2c');

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('sealed-credential fuzz', () => {
  it('bit flips, truncations, swapped scopes, garbage and old keys: nothing opens but the genuine envelope', async () => {
    const t0 = performance.now();
    const old = await createKeyring(new Date('2026-01-01T00:00:00Z'));
    const keyring = await rotateKeyring(old, new Date('2026-06-01T00:00:00Z'));
    const envelope = seal(keyring.certificatePem, VALUE, SCOPE);
    expect(unseal(envelope, keyring, SCOPE)).toMatchObject({ ok: true, plaintext: VALUE });
    const raw = Buffer.from(envelope, 'base64');
    const codes = new Map<string, number>();
    let cases = 0;
    const refused = (label: string, env: string, scope: SealScope = SCOPE, ring: SealingKeyring = keyring, expected?: UnsealCode) => {
      cases++;
      const r = unseal(env, ring, scope);
      expect(r.ok, label).toBe(false);
      if (r.ok) return;
      expect(['WrongKey', 'Tampered', 'ScopeMismatch', 'Malformed'], label).toContain(r.code);
      if (expected) expect(r.code, label).toBe(expected);
      expect(r.message, label).not.toContain(VALUE.toString());
      codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
    };

    // every bit of the binary envelope
    for (let i = 0; i < raw.length * 8; i++) {
      const b = Buffer.from(raw);
      b[i >> 3]! ^= 1 << (i & 7);
      refused(`bit ${i}`, b.toString('base64'));
    }
    // every truncation, and every extension by one byte
    for (let n = 0; n < raw.length; n++) refused(`truncated to ${n}`, raw.subarray(0, n).toString('base64'));
    for (let v = 0; v < 256; v += 17) refused(`extended by ${v}`, Buffer.concat([raw, Buffer.of(v)]).toString('base64'));
    // the scope it was sealed for, each field swapped (another credential, namespace, path, agents, mode)
    const swaps: Array<[string, SealScope]> = [
      ['namespace', { ...SCOPE, namespace: 'team-b' }],
      ['name', { ...SCOPE, name: 'other' }],
      ['resourcePath', { ...SCOPE, resourcePath: 'default/team-a/other' }],
      ['agents: one dropped', { ...SCOPE, agents: ['bot-1'] }],
      ['agents: one added', { ...SCOPE, agents: ['bot-1', 'bot-2', 'bot-3'] }],
      ['agents: none (any agent)', { ...SCOPE, agents: [] }],
      ['mode: NamespaceWide', { ...SCOPE, mode: 'NamespaceWide' }],
      ['name: empty', { ...SCOPE, name: '' }],
    ];
    for (const [label, scope] of swaps) refused(`scope ${label}`, envelope, scope, keyring, 'ScopeMismatch');
    // a credential sealed for another scope presented as this one
    for (const [label, scope] of swaps.filter(([l]) => l !== 'name: empty')) refused(`sealed for ${label}`, seal(keyring.certificatePem, VALUE, scope), SCOPE, keyring, 'ScopeMismatch');
    // re-encryption under an old key the keyring no longer holds (a retired key), and under a stranger's key
    const retired = new SealingKeyring([...keyring.keys.filter((k) => k.id !== old.activeKeyId)]);
    refused('sealed to a retired key', seal(old.certificatePem, VALUE, SCOPE), SCOPE, retired, 'WrongKey');
    const stranger = await createKeyring(new Date());
    refused('sealed to a stranger key', seal(stranger.certificatePem, VALUE, SCOPE), SCOPE, keyring, 'WrongKey');
    // an old-key envelope relabelled with the active key's id: the header is authenticated
    const relabelled = Buffer.from(seal(old.certificatePem, VALUE, SCOPE), 'base64');
    Buffer.from(keyring.activeKeyId, 'hex').copy(relabelled, 5);
    refused('old-key ciphertext relabelled as the active key', relabelled.toString('base64'), SCOPE, keyring, 'Tampered');
    // random garbage at the base64 level: random chars, random bytes behind a valid header, empty, huge
    const r = rng(15);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ .\n\u00e9';
    for (let i = 0; i < 1000; i++) {
      const chars = envelope.split('');
      const edits = 1 + Math.floor(r() * 4);
      for (let e = 0; e < edits; e++) chars[Math.floor(r() * chars.length)] = alphabet[Math.floor(r() * alphabet.length)]!;
      const mutated = chars.join('');
      if (mutated === envelope) continue;
      // base64 decoding is lenient about padding: a change that decodes to the same bytes is not a mutation
      if (/^[A-Za-z0-9+/]+={0,2}$/.test(mutated) && Buffer.from(mutated, 'base64').equals(raw)) continue;
      refused(`random edit ${i}`, mutated);
    }
    for (let i = 0; i < 200; i++) {
      const tail = Buffer.from(Array.from({ length: Math.floor(r() * 400) }, () => Math.floor(r() * 256)));
      refused(`random body ${i}`, Buffer.concat([raw.subarray(0, 5 + 32 + 32), tail]).toString('base64'));
    }
    refused('empty', '');
    refused('huge', 'A'.repeat(8 * 1024 * 1024));
    refused('not base64', '{"encryptedData":"x"}');
    // and the old key still in the keyring opens what was sealed to it (rotation keeps old credentials working)
    expect(unseal(seal(old.certificatePem, VALUE, SCOPE), keyring, SCOPE)).toMatchObject({ ok: true, keyId: old.activeKeyId });
    console.log(`sealed-credential fuzz: ${cases} mutated envelopes refused in ${(performance.now() - t0).toFixed(0)} ms, 0 opened; by code ${JSON.stringify(Object.fromEntries(codes))}`);
    expect(cases).toBeGreaterThan(3000);
  });
});
