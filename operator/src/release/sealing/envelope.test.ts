import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { envelopeKeyId, seal, SealError, unseal, type SealScope } from './envelope.ts';
import { createKeyring, KeyringFormatError, parseKeyring, rotateKeyring, serializeKeyring, type SealingKeyring } from './keyring.ts';
import { sealingKeyFromCertificate } from './keys.ts';

const now = new Date('2026-11-21T12:00:00Z');
const secret = 'dingtalk-client-secret-9f8e7d';
const scope: SealScope = { namespace: 'agents', name: 'im-bot', mode: 'Strict', agents: ['bot-a', 'bot-b'], resourcePath: 'default/local-resources/openclaw_vllm_config' };
let keyring: SealingKeyring;

beforeAll(async () => {
  keyring = await createKeyring(now);
});

const flipByte = (b64: string, index: number) => {
  const b = Buffer.from(b64, 'base64');
  b[index < 0 ? b.length + index : index]! ^= 0x01;
  return b.toString('base64');
};

describe('sealed envelope v1', () => {
  it('round-trips and records the key id', () => {
    const env = seal(keyring.certificatePem, Buffer.from(secret), scope);
    expect(envelopeKeyId(env)).toBe(keyring.activeKeyId);
    const r = unseal(env, keyring, scope);
    expect(r.ok && r.plaintext.toString()).toBe(secret);
    expect(env).not.toContain(Buffer.from(secret).toString('base64'));
  });

  it('binds the scope: a moved or edited SealedCredential fails with ScopeMismatch', () => {
    const env = seal(keyring.certificatePem, Buffer.from(secret), scope);
    const edits: Partial<SealScope>[] = [{ namespace: 'other' }, { name: 'renamed' }, { agents: ['bot-a', 'evil'] }, { agents: [] }, { resourcePath: 'default/x/y' }, { mode: 'NamespaceWide' }];
    for (const e of edits) {
      const r = unseal(env, keyring, { ...scope, ...e });
      expect(r.ok ? 'ok' : r.code).toBe('ScopeMismatch');
      expect(JSON.stringify(r)).not.toContain(secret);
    }
    expect(unseal(env, keyring, { ...scope, agents: ['bot-b', 'bot-a', 'bot-a'] }).ok).toBe(true);
  });

  it('NamespaceWide ignores the object name but still binds the namespace', () => {
    const wide: SealScope = { namespace: 'agents', mode: 'NamespaceWide', agents: [], resourcePath: 'r/t/g' };
    const env = seal(keyring.certificatePem, Buffer.from(secret), wide);
    expect(unseal(env, keyring, { ...wide, name: 'any-name' }).ok).toBe(true);
    const moved = unseal(env, keyring, { ...wide, namespace: 'elsewhere' });
    expect(!moved.ok && moved.code).toBe('ScopeMismatch');
  });

  it('detects tampering of ciphertext, tag, IV or ephemeral key', () => {
    const env = seal(keyring.certificatePem, Buffer.from(secret), scope);
    for (const index of [-1, -17, 69 + 97 + 3, 69 + 10, 200]) {
      const r = unseal(flipByte(env, index), keyring, scope);
      expect(r.ok ? 'ok' : r.code).toBe('Tampered');
      expect(JSON.stringify(r)).not.toContain(secret);
    }
  });

  it('reports WrongKey, Malformed and scope-digest edits with distinct codes', async () => {
    const env = seal(keyring.certificatePem, Buffer.from(secret), scope);
    const other = await createKeyring(now);
    const wrong = unseal(env, other, scope);
    expect(!wrong.ok && wrong.code).toBe('WrongKey');
    for (const bad of ['', 'not base64!', Buffer.from('CAIS\x02').toString('base64'), env.slice(0, 100), Buffer.from('XXXX').toString('base64')]) {
      const r = unseal(bad, keyring, scope);
      expect(r.ok ? 'ok' : r.code).toBe('Malformed');
    }
    const r = unseal(flipByte(env, 40), keyring, scope);
    expect(!r.ok && r.code).toBe('ScopeMismatch');
  });

  it('refuses non-sealing certificates and invalid scopes', () => {
    expect(() => seal('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', Buffer.from('x'), scope)).toThrow(SealError);
    expect(() => seal(keyring.certificatePem, Buffer.from('x'), { ...scope, name: undefined })).toThrow(/scope.name/);
    expect(sealingKeyFromCertificate('junk').ok).toBe(false);
  });
});

describe('keyring', () => {
  it('rotation keeps old keys for decryption and seals to the new key', async () => {
    const oldEnv = seal(keyring.certificatePem, Buffer.from(secret), scope);
    const rotated = await rotateKeyring(keyring, new Date(now.getTime() + 1000));
    expect(rotated.keys).toHaveLength(2);
    expect(rotated.activeKeyId).not.toBe(keyring.activeKeyId);
    expect(unseal(oldEnv, rotated, scope).ok).toBe(true);
    const newEnv = seal(rotated.certificatePem, Buffer.from(secret), scope);
    expect(envelopeKeyId(newEnv)).toBe(rotated.activeKeyId);
    const old = unseal(newEnv, keyring, scope);
    expect(!old.ok && old.code).toBe('WrongKey');
  });

  it('serializes and parses back, and refuses inconsistent stored keyrings', async () => {
    const text = serializeKeyring(keyring);
    const back = parseKeyring(text);
    expect(back.activeKeyId).toBe(keyring.activeKeyId);
    expect(unseal(seal(keyring.certificatePem, Buffer.from(secret), scope), back, scope).ok).toBe(true);
    const other = await createKeyring(now);
    const doc = JSON.parse(text) as { keys: { certificatePem: string }[] };
    doc.keys[0]!.certificatePem = other.certificatePem;
    for (const bad of ['', '{}', '{"version":2,"keys":[]}', '{"version":1,"keys":[{}]}', JSON.stringify(doc)]) {
      expect(() => parseKeyring(bad)).toThrow(KeyringFormatError);
    }
  });
});

// Each decoder check on its own: every input below fails exactly one check, so removing or weakening that
// check changes the outcome (mutation testing found the combined tests could not tell them apart).
describe('envelope decoder, check by check', () => {
  const KAT = JSON.parse(readFileSync(join(import.meta.dirname, '../../../test/fixtures/sealing/envelope-v1-kat.json'), 'utf8')) as { keyring: string; scope: SealScope; plaintext: string; envelope: string };
  const HEADER_LEN = 4 + 1 + 32 + 32 + 97 + 12;
  const malformed = 'encryptedData is not a version-1 sealed envelope (bad base64, magic, version or length)';
  const code = (r: ReturnType<typeof unseal>) => (r.ok ? `ok:${r.plaintext.toString()}` : r.code);

  it('known answer: an envelope sealed once (test-only key) still opens to the same plaintext (KDF, AAD, IV, layout)', () => {
    const r = unseal(KAT.envelope, parseKeyring(KAT.keyring), KAT.scope);
    expect(code(r)).toBe(`ok:${KAT.plaintext}`);
  });

  it('not a string, characters outside base64 before or after, or too long → Malformed with the fixed message', () => {
    const env = seal(keyring.certificatePem, Buffer.from(secret), scope);
    for (const bad of [123 as unknown as string, `!!!!${env}`, `${env}!!!!`, `${env}\n`]) {
      const r = unseal(bad, keyring, scope);
      expect(r).toEqual({ ok: false, code: 'Malformed', message: malformed });
    }
    // 2 MiB of base64 is the cap (a 1 MiB envelope); a real envelope above it is refused unread, one well below opens
    const big = seal(keyring.certificatePem, Buffer.alloc(1_600_000, 7), scope);
    expect(big.length).toBeGreaterThan(2 * 1_048_576);
    expect(code(unseal(big, keyring, scope))).toBe('Malformed');
    const mid = seal(keyring.certificatePem, Buffer.alloc(500_000, 7), scope);
    expect(mid.length).toBeGreaterThan(1_048_576 / 2);
    expect(unseal(mid, keyring, scope).ok).toBe(true);
  });

  it('the 2 MiB base64 cap is inclusive: an envelope of exactly 2,097,152 characters opens', () => {
    const exact = seal(keyring.certificatePem, Buffer.alloc(1_572_864 - (HEADER_LEN + 16), 1), scope);
    expect(exact.length).toBe(2 * 1_048_576);
    expect(unseal(exact, keyring, scope).ok).toBe(true);
  });

  it('magic and version are checked before anything else (not reported as tampering)', () => {
    const env = seal(keyring.certificatePem, Buffer.from(secret), scope);
    for (const index of [0, 3, 4]) expect(unseal(flipByte(env, index), keyring, scope)).toEqual({ ok: false, code: 'Malformed', message: malformed });
  });

  it('a claimed scope that cannot be a scope (Strict without a name) is ScopeMismatch with the reason', () => {
    const env = seal(keyring.certificatePem, Buffer.from(secret), scope);
    expect(unseal(env, keyring, { ...scope, name: undefined })).toEqual({ ok: false, code: 'ScopeMismatch', message: 'scope.name is required for Strict scope' });
  });

  it('length: header + tag with an empty ciphertext opens; one byte short of the header is Malformed', () => {
    const empty = seal(keyring.certificatePem, Buffer.alloc(0), scope);
    expect(Buffer.from(empty, 'base64').length).toBe(HEADER_LEN + 16);
    expect(code(unseal(empty, keyring, scope))).toBe('ok:');
    const short = Buffer.concat([Buffer.from('CAIS\x01', 'latin1'), Buffer.from(empty, 'base64').subarray(5, HEADER_LEN - 1)]);
    expect(unseal(short.toString('base64'), keyring, scope)).toEqual({ ok: false, code: 'Malformed', message: malformed });
  });

  it('messages name the check: WrongKey names the key id, ScopeMismatch the scope, an invalid ephemeral key, a failed tag', async () => {
    const env = seal(keyring.certificatePem, Buffer.from(secret), scope);
    const other = await createKeyring(now);
    const wrong = unseal(env, other, scope);
    expect(wrong).toEqual({ ok: false, code: 'WrongKey', message: `sealed to key ${keyring.activeKeyId.slice(0, 16)}…, which is not in the operator keyring` });
    expect(unseal(env, keyring, { ...scope, namespace: 'x' })).toEqual({
      ok: false,
      code: 'ScopeMismatch',
      message: 'the SealedCredential namespace/name/scope/resourcePath differ from what it was sealed for',
    });
    const b = Buffer.from(env, 'base64');
    b.fill(0, 70, 69 + 97); // 0x04 ‖ zeros: not a point on P-384
    expect(unseal(b.toString('base64'), keyring, scope)).toEqual({ ok: false, code: 'Tampered', message: 'the envelope ephemeral key is not a valid P-384 point' });
    expect(unseal(flipByte(env, -1), keyring, scope)).toEqual({ ok: false, code: 'Tampered', message: 'authenticated decryption failed: the ciphertext or its header was modified' });
  });

  it('invalid seal input: a typed error with its code; an empty namespace is refused', () => {
    let err: unknown;
    try {
      seal(keyring.certificatePem, Buffer.from('x'), { ...scope, namespace: '' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SealError);
    expect(err).toMatchObject({ code: 'InvalidSealInput', message: 'scope.namespace is required' });
  });
});
