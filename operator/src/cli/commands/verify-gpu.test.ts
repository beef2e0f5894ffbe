import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../command.ts';
import { H100_2023, H100_550, kbsEntry } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { command } from './verify-gpu.ts';

function io(stdin = '') {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIO = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), readStdin: () => Promise.resolve(Buffer.from(stdin)), env: {} };
  return { cli, out: () => out.join(''), err: () => err.join('') };
}

function workspace(vbiosRim = H100_2023.vbiosRim) {
  const dir = mkdtempSync(join(tmpdir(), 'cai-gpu-'));
  const rimDir = join(dir, 'rims');
  const files = {
    rimDir,
    kbs: join(dir, 'kbs.json'),
    sdk: join(dir, 'sdk.json'),
    onlyEvidence: join(dir, 'evidence-only.json'),
  };
  writeFileSync(files.kbs, JSON.stringify({ device_evidence_list: [kbsEntry(H100_2023.report, H100_2023.chainPem, 'GPU-a')] }));
  const sdkEntry = { ...kbsEntry(H100_2023.report, H100_2023.chainPem), nonce: H100_2023.nonceHex, driver_version: '545.00', vbios_version: '96.00.5E.00.01', version: '1.0' };
  writeFileSync(files.sdk, JSON.stringify([sdkEntry]));
  writeFileSync(files.onlyEvidence, JSON.stringify({ device_evidence_list: [kbsEntry(H100_550.report, H100_550.chainPem)] }));
  mkdirSync(rimDir);
  writeFileSync(join(rimDir, `${H100_2023.driverRimId}.swidtag`), H100_2023.driverRim);
  writeFileSync(join(rimDir, `${H100_2023.vbiosRimId}.xml`), vbiosRim);
  return files;
}

const pinned = ['--at', '2024-06-01T00:00:00Z'];

describe('cai verify gpu', () => {
  it('verifies the KBS layout offline and prints JSON (exit 0)', async () => {
    const w = workspace();
    const t = io();
    const code = await command.run(['--evidence', w.kbs, '--rim-dir', w.rimDir, ...pinned, '--nonce', H100_2023.nonceHex, '--json'], t.cli);
    expect(code).toBe(0);
    const out = JSON.parse(t.out()) as { verified: boolean; layout: string; gpus: { ok: boolean; uuid: string; ocsp: string }[] };
    expect(out).toMatchObject({ verified: true, layout: 'kbs', gpus: [{ ok: true, uuid: 'GPU-a', ocsp: 'skipped' }] });
  });

  it('reads the NVIDIA SDK evidence list, taking the nonce from it', async () => {
    const w = workspace();
    const t = io();
    expect(await command.run(['--evidence', w.sdk, '--rim-dir', w.rimDir, ...pinned], t.cli)).toBe(0);
    expect(t.out()).toMatch(/^VERIFIED {2}1 of 1 GPUs\n {2}GPU 0 .* driver 545\.00 {2}VBIOS 96\.00\.5E\.00\.01\n {4}measurements match \(32 compared, index 35 skipped/);
  });

  it('reads evidence from stdin', async () => {
    const w = workspace();
    const t = io(JSON.stringify({ device_evidence_list: [kbsEntry(H100_2023.report, H100_2023.chainPem)] }));
    expect(await command.run(['--evidence', '-', '--rim-dir', w.rimDir, ...pinned, '--nonce', H100_2023.nonceHex], t.cli)).toBe(0);
  });

  it('exits 1 naming the reason: mismatching RIM, expired RIM signer, wrong nonce, missing RIM', async () => {
    const cases: [string[], RegExp, string?][] = [
      [[...pinned, '--nonce', H100_2023.nonceHex], /RimMismatch: .*vbios 1 \(value\)/, H100_2023.negativeVbiosRim],
      [['--at', '2025-07-01T00:00:00Z', '--nonce', H100_2023.nonceHex], /RimCertExpired/],
      [[...pinned, '--nonce', '00'.repeat(32)], /NonceMismatch/],
    ];
    for (const [args, why, vbios] of cases) {
      const w = workspace(vbios);
      const t = io();
      expect(await command.run(['--evidence', w.kbs, '--rim-dir', w.rimDir, ...args], t.cli)).toBe(1);
      expect(t.out()).toMatch(/^REJECTED {2}1 of 1 GPUs failed/);
      expect(t.out()).toMatch(why);
    }
    const w = workspace();
    const t = io();
    expect(await command.run(['--evidence', w.onlyEvidence, '--rim-dir', w.rimDir, '--at', '2025-09-01T00:00:00Z', '--nonce', H100_550.nonceHex], t.cli)).toBe(1);
    expect(t.out()).toMatch(/RimMissing: no driver RIM NV_GPU_DRIVER_GH100_550\.90\.07/);
  });

  it('exits 2 on usage and input errors', async () => {
    const w = workspace();
    const bad = join(w.rimDir, 'bad.json');
    writeFileSync(bad, '{"device_evidence_list": [{"arch": "HOPPER"}]}');
    for (const args of [
      [],
      ['--bogus'],
      ['--evidence', w.kbs, '--rim-dir', w.rimDir, ...pinned],
      ['--evidence', w.kbs, '--nonce', 'zz'],
      ['--evidence', w.kbs, '--at', 'yesterday', '--nonce', H100_2023.nonceHex],
      ['--evidence', w.kbs, '--ocsp', 'sometimes', '--nonce', H100_2023.nonceHex],
      ['--evidence', join(w.rimDir, 'missing.json'), '--nonce', H100_2023.nonceHex],
      ['--evidence', bad, '--nonce', H100_2023.nonceHex],
    ]) {
      const t = io();
      expect(await command.run(args, t.cli), args.join(' ')).toBe(2);
      expect(t.err()).toMatch(/cai verify gpu: /);
    }
  });
});
