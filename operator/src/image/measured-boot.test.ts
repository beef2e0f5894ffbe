// Against a real event log: OVMF + swtpm booting the dev image (captured from the boot test's guest,
// operator/test/fixtures/guest-image/ovmf-vtpm-eventlog.json says which UKI it measured).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootApplications, checkUkiMeasured, MAX_EVENT_LOG_BYTES } from './measured-boot.ts';

const FIX = join(import.meta.dirname, '../../test/fixtures/guest-image');
const log = readFileSync(join(FIX, 'ovmf-vtpm-eventlog.bin'));
const meta = JSON.parse(readFileSync(join(FIX, 'ovmf-vtpm-eventlog.json'), 'utf8')) as { ukiSha384: string };

describe('measured boot from a TPM event log', () => {
  it('finds the BOOTX64.EFI boot application in PCR4 with the UKI digest the builder computed', () => {
    const apps = bootApplications(log);
    const uki = apps.find((a) => a.devicePath.endsWith('File(\\EFI\\BOOT\\BOOTX64.EFI)'));
    expect(uki).toMatchObject({ pcr: 4, sha384: meta.ukiSha384 });
    expect(checkUkiMeasured(log, [meta.ukiSha384.toUpperCase()])).toMatchObject({ ok: true, event: { sha384: meta.ukiSha384 } });
  });

  it('refuses another UKI digest naming the reference value', () => {
    const r = checkUkiMeasured(log, ['00'.repeat(48)]);
    expect(r).toMatchObject({ ok: false, code: 'UkiMismatch' });
    expect(r.ok ? '' : r.message).toContain('measurement.uki.SHA-384 reference values');
  });

  it('rejects truncated, corrupted and oversized logs with a specific error', () => {
    expect(() => bootApplications(log.subarray(0, 200))).toThrow(/event log/);
    const bad = Buffer.from(log);
    const first = 32 + log.readUInt32LE(28); // after the Spec ID header event
    bad.writeUInt32LE(24, first); // PCR index of the first event
    expect(() => bootApplications(bad)).toThrow(/PCR index 24; a TPM has 0 to 23/);
    expect(() => bootApplications(new Uint8Array(MAX_EVENT_LOG_BYTES + 1))).toThrow(/larger than/);
  });
});
