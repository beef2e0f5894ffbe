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
