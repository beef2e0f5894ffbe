// What the firmware measured, read from a TCG2 crypto-agile event log (the vTPM log OVMF writes, the
// same format as the TDX CCEL): the EV_EFI_BOOT_SERVICES_APPLICATION events, and the check that a UKI
// reference value (measurement.uki.SHA-384) is among them. Input bytes are hostile: parseCcel bounds
// every field and fails with EventLogMalformed.
import { devicePathText, EV_EFI_BOOT_SERVICES_APPLICATION } from '../attestation/tdx/ccel-events.ts';
import { parseCcel, TPM_ALG_SHA384 } from '../attestation/tdx/ccel.ts';
import { RV_NAMES } from '../attestation/policy/reference-values.ts';

export const MAX_EVENT_LOG_BYTES = 1024 * 1024;

export interface BootApplicationEvent {
  index: number;
  pcr: number;
  sha384: string;
  /** Device path of the loaded image as text, e.g. ".../HD/File(\EFI\BOOT\BOOTX64.EFI)" when present. */
  devicePath: string;
}

/** The boot applications the firmware measured, in log order. */
export function bootApplications(log: Uint8Array): BootApplicationEvent[] {
  if (log.length > MAX_EVENT_LOG_BYTES) throw new RangeError(`event log is larger than ${MAX_EVENT_LOG_BYTES} bytes`);
  const parsed = parseCcel(log, { tpm: true });
  const out: BootApplicationEvent[] = [];
  for (const e of parsed.events) {
    if (e.eventType !== EV_EFI_BOOT_SERVICES_APPLICATION) continue;
    const digest = e.digests.get(TPM_ALG_SHA384);
    if (!digest) continue;
    // UEFI_IMAGE_LOAD_EVENT: ImageLocationInMemory(8) ImageLengthInMemory(8) ImageLinkTimeAddress(8) LengthOfDevicePath(8) DevicePath
    let devicePath = '';
    if (e.data.length >= 32) {
      const dv = new DataView(e.data.buffer, e.data.byteOffset, e.data.byteLength);
      const len = Number(dv.getBigUint64(24, true));
      if (len <= e.data.length - 32) {
        try {
          devicePath = devicePathText(e.data.subarray(32, 32 + len));
        } catch {
          devicePath = '';
        }
      }
    }
    out.push({ index: e.index, pcr: e.mrIndex, sha384: Buffer.from(digest).toString('hex'), devicePath });
  }
  return out;
}

export type UkiCheck = { ok: true; event: BootApplicationEvent } | { ok: false; code: 'UkiMismatch'; message: string };

/** Is one of the measured boot applications a UKI whose digest is a reference value? */
export function checkUkiMeasured(log: Uint8Array, referenceSha384: readonly string[]): UkiCheck {
  const wanted = new Set(referenceSha384.map((d) => d.toLowerCase()));
  const apps = bootApplications(log);
  const hit = apps.find((a) => wanted.has(a.sha384));
  if (hit) return { ok: true, event: hit };
  return { ok: false, code: 'UkiMismatch', message: `no UKI digest in the event log (${apps.length} boot applications) is among the ${RV_NAMES.uki} reference values` };
}
