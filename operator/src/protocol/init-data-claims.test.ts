import { describe, expect, it } from 'vitest';
import { agentInitData, agentInitDataDigest } from './agent-init-data.ts';
import { initDataClaims } from './init-data-claims.ts';

describe('init-data claims', () => {
  it('reads the [data] table string entries only', () => {
    const body = 'algorithm = "sha384"\nversion = "0.1.0"\n\n[data]\n"cai.agent" = "ns/a"\nplain = "v"\n"multi" = """\n"x" = "smuggled"\n"""\nlist = ["a"]\n[other]\n"k" = "no"\n';
    expect(initDataClaims(body)).toEqual({ 'cai.agent': 'ns/a', plain: 'v' });
  });

  it('ignores __proto__ and repeated keys, and anything over 64 KiB', () => {
    expect(initDataClaims('[data]\n"__proto__" = "x"\n"k" = "1"\n"k" = "2"\n')).toEqual({ k: '1' });
    expect(initDataClaims('[data]\n"k" = "1"\n' + ' '.repeat(70_000))).toEqual({});
  });

  it('is linear in the input (60,000 newlines under the 64 KiB cap)', () => {
    expect(initDataClaims('[data]\n' + '\n'.repeat(60_000))).toEqual({});
  });

  it("an agent's init-data names it and its UID; the digest is SHA-384 of those bytes", () => {
    const a = { namespace: 'ns', name: 'agent-a', uid: '0b0c9a8e-5f52' };
    expect(initDataClaims(agentInitData(a))).toEqual({ 'cai.agent': 'ns/agent-a', 'cai.agent-uid': '0b0c9a8e-5f52' });
    expect(agentInitDataDigest(a)).toHaveLength(48);
    expect(agentInitDataDigest(a).equals(agentInitDataDigest({ ...a, uid: 'other' }))).toBe(false);
    expect(() => agentInitData({ ...a, name: 'a"\n[data]' })).toThrow(TypeError);
  });
});
