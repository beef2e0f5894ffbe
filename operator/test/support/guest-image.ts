// Shared by the guest-image tests: build the `dev` profile (cached by inputs under ~/.cache), and pick
// the QEMU accelerator — KVM only when it really runs a guest, TCG otherwise, always said out loud.
import { join } from 'node:path';
import { buildImage, REPO_ROOT, type BuildOptions, type BuildResult } from '../../src/image/build.ts';
import { loadProfile, type DebianHostProfile } from '../../src/image/profile.ts';
import { probeKvm } from '../../src/sim/local/qemu.ts';

/** Fixed build time of the test images (2026-12-04T00:00:00Z). */
export const TEST_EPOCH = 1764806400;

export async function devProfile(): Promise<DebianHostProfile> {
  const p = await loadProfile(join(REPO_ROOT, 'guest-image/profiles/dev.json'));
  if (p.builder !== 'debian-host') throw new Error('dev profile must use the debian-host builder');
  return p;
}

export async function buildDev(outDir: string, extra: Partial<BuildOptions> = {}): Promise<BuildResult> {
  return buildImage({ profile: await devProfile(), outDir, sourceDateEpoch: TEST_EPOCH, ...extra });
}

let accel: Promise<'kvm' | 'tcg'> | undefined;
export function chooseAccel(): Promise<'kvm' | 'tcg'> {
  accel ??= probeKvm().then((r) => {
    process.stderr.write(`guest-image tests: ${r.usable ? 'using KVM' : `using TCG (software emulation): ${r.reason}`}\n`);
    return r.usable ? 'kvm' : 'tcg';
  });
  return accel;
}
