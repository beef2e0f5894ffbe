import { describe, expect, it } from 'vitest';
import { runCli } from '../main.ts';

async function cai(args: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await runCli(args, { stdout: () => undefined, stderr: (t) => void (err += t), readStdin: async () => Buffer.alloc(0), env: {} });
  return { code, err };
}

describe('cai local-cloud backend flags', () => {
  it('refuses an unknown backend and --image without the qemu backend', async () => {
    expect(await cai(['local-cloud', '--backend', 'docker'])).toEqual({ code: 2, err: "cai local-cloud: --backend must be process or qemu, got 'docker'\n" });
    expect(await cai(['local-cloud', '--image', 'x.qcow2'])).toEqual({ code: 2, err: 'cai local-cloud: --image needs --backend qemu\n' });
  });
});
