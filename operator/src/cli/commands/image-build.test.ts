import { describe, expect, it } from 'vitest';
import { runCli } from '../main.ts';

async function cai(args: string[], env: Record<string, string> = {}): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await runCli(args, { stdout: () => undefined, stderr: (t) => void (err += t), readStdin: async () => Buffer.alloc(0), env });
  return { code, err };
}

describe('cai image build', () => {
  it('needs a profile and SOURCE_DATE_EPOCH', async () => {
    expect(await cai(['image', 'build'])).toMatchObject({ code: 2, err: expect.stringContaining('--profile is required') });
    expect(await cai(['image', 'build', '--profile', 'dev'])).toMatchObject({ code: 2, err: expect.stringContaining('SOURCE_DATE_EPOCH must be set') });
    expect(await cai(['image', 'build', '--profile', 'dev'], { SOURCE_DATE_EPOCH: 'yesterday' })).toMatchObject({ code: 2 });
    expect(await cai(['image', 'build', '--profile', 'no-such-profile'], { SOURCE_DATE_EPOCH: '1764806400' })).toMatchObject({ code: 1, err: expect.stringContaining('not found') });
  });

  it('refuses the production profile here, listing the inputs still to pin', async () => {
    const r = await cai(['image', 'build', '--profile', 'openclaw-vllm'], { SOURCE_DATE_EPOCH: '1764806400' });
    expect(r.code).toBe(1);
    expect(r.err).toContain('inputs without a version or digest pin; refusing to build');
    expect(r.err).toContain('rpm trusted-network-gateway-2.8.0-1.al8.x86_64');
    expect(r.err).toContain('alinux3-chroot builder');
  });
});
