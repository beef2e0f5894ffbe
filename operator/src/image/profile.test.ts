import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './build.ts';
import { parseProfile, unpinnedInputs } from './profile.ts';

const read = (name: string) => readFileSync(join(REPO_ROOT, 'guest-image/profiles', `${name}.json`), 'utf8');

describe('guest image profiles', () => {
  it('dev and openclaw-vllm parse; openclaw-vllm lists every input and which pins are still open', () => {
    expect(parseProfile(read('dev'), 'dev.json')).toMatchObject({ builder: 'debian-host', name: 'cai-dev' });
    const prod = parseProfile(read('openclaw-vllm'), 'openclaw-vllm.json');
    expect(prod.builder).toBe('alinux3-chroot');
    if (prod.builder !== 'alinux3-chroot') return;
    expect(prod.services.map((s) => s.name)).toEqual(expect.arrayContaining(['trustiflux-api', 'tng', 'openclaw', 'vllm', 'pep']));
    expect(prod.cmdline).toContain('swiotlb=4194304,any');
    expect(prod.nvidia).toMatchObject({ ccMode: 'on', driver: { version: '550.144.03-1.al8.x86_64' } });
    // npm artifacts are pinned by the registry's sha512 integrity; what needs an Alibaba Cloud Linux
    // mirror to resolve is listed, and the builder refuses until it is pinned.
    expect(prod.artifacts['openclaw']?.integrity).toMatch(/^sha512-/);
    const missing = unpinnedInputs(prod);
    expect(missing).toContain('base.image https://alinux3.oss-cn-hangzhou.aliyuncs.com/aliyun_3_x64_20G_nocloud_alibase_20251215.qcow2');
    expect(missing).toContain('rpm trusted-network-gateway-2.8.0-1.al8.x86_64');
    expect(missing).not.toContain('artifact openclaw');
  });

  it('names the field and the rule when a profile is wrong', () => {
    const dev = JSON.parse(read('dev')) as Record<string, unknown>;
    expect(() => parseProfile('{', 'p.json')).toThrow(/p\.json: not JSON/);
    expect(() => parseProfile(JSON.stringify({ ...dev, name: 'Bad Name' }), 'p.json')).toThrow(/p\.json: name: image name/);
    expect(() => parseProfile(JSON.stringify({ ...dev, cmdline: ['a b'] }), 'p.json')).toThrow(/cmdline\.0: kernel command-line word/);
    expect(() => parseProfile(JSON.stringify({ ...dev, extra: 1 }), 'p.json')).toThrow(/p\.json/);
    const prod = JSON.parse(read('openclaw-vllm')) as { containers: Record<string, string> };
    prod.containers['vllm'] = 'vllm/vllm-openai:latest';
    expect(() => parseProfile(JSON.stringify(prod), 'p.json')).toThrow(/containers\.vllm: image reference pinned by digest/);
  });
});
