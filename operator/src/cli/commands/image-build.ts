// `cai image build`: builds a guest image profile (guest-image/profiles/<name>.json) reproducibly:
// UKI + dm-verity erofs rootfs + ESP + GPT qcow2, plus <name>.json reference values and a manifest of
// every input's digest. SOURCE_DATE_EPOCH fixes all timestamps; the build is cached by its inputs.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { buildImage, ImageBuildError, REPO_ROOT } from '../../image/build.ts';
import { loadProfile, ProfileError, unpinnedInputs } from '../../image/profile.ts';
import type { CliCommand } from '../command.ts';

const USAGE = `Usage: cai image build --profile NAME|FILE [--out DIR] [--cache DIR]
  --profile NAME|FILE  dev | openclaw-vllm, or a profile JSON file
  --out DIR            output directory (default guest-image/out)
  --cache DIR          build cache (default ~/.cache/cai-operator/guest-image)
Environment: SOURCE_DATE_EPOCH (required: every timestamp in the image comes from it).
Publish the result with: cai refvalues publish --uki DIR/<name>.efi ...`;

export const command: CliCommand = {
  path: ['image', 'build'],
  summary: 'build a reproducible guest image (UKI, dm-verity rootfs, LUKS2 data) from a profile',
  usage: USAGE,
  async run(args, io) {
    let v: { profile?: string; out?: string; cache?: string };
    try {
      v = parseArgs({ args, strict: true, options: { profile: { type: 'string' }, out: { type: 'string' }, cache: { type: 'string' } } }).values;
    } catch (err) {
      io.stderr(`cai image build: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
      return 2;
    }
    if (!v.profile) {
      io.stderr(`cai image build: --profile is required\n${USAGE}\n`);
      return 2;
    }
    const epochText = io.env['SOURCE_DATE_EPOCH'];
    const epoch = Number(epochText);
    if (!epochText || !/^\d{1,12}$/.test(epochText)) {
      io.stderr('cai image build: SOURCE_DATE_EPOCH must be set to a UNIX time (seconds) so the build is reproducible\n');
      return 2;
    }
    const file = /^[a-z0-9-]+$/.test(v.profile) ? join(REPO_ROOT, 'guest-image/profiles', `${v.profile}.json`) : v.profile;
    try {
      const profile = await loadProfile(file);
      if (profile.builder !== 'debian-host') {
        const open = unpinnedInputs(profile);
        if (open.length > 0) io.stderr(`cai image build: ${profile.name} has ${open.length} inputs without a version or digest pin; refusing to build:\n${open.map((o) => `  ${o}`).join('\n')}\n`);
        io.stderr(`cai image build: profile ${profile.name} uses the ${profile.builder} builder; build it on an Alibaba Cloud Linux 3 host that reaches its repositories (docs/guest-image.md)\n`);
        return 1;
      }
      const r = await buildImage({ profile, outDir: v.out ?? join(REPO_ROOT, 'guest-image/out'), sourceDateEpoch: epoch, ...(v.cache ? { cacheDir: v.cache } : {}), log: (l) => io.stderr(`${l}\n`) });
      io.stdout(`${JSON.stringify({ name: r.name, cached: r.cached, ukiSha384: r.ukiSha384, verityRootHash: r.verityRootHash, files: r.files }, null, 2)}\n`);
      return 0;
    } catch (err) {
      if (err instanceof ProfileError || err instanceof ImageBuildError) {
        io.stderr(`cai image build: ${err.code}: ${err.message}\n`);
        return 1;
      }
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        io.stderr(`cai image build: profile ${file} not found\n`);
        return 1;
      }
      throw err;
    }
  },
};
