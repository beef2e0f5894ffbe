// What the simulated guest attests with: the `sample` TEE by default, or any evidence source a test plugs in
// (e.g. TDX + eight GPUs re-signed by a test PKI). Composite evidence is assembled exactly as the CoCo
// attestation agent does for KBS 0.4.0: device evidence over SHA-384(JCS({nonce, tee-pubkey})) first, then the
// primary evidence over SHA-384(JCS({nonce, tee-pubkey, additional-evidence})), so the quote covers the devices.
import { sampleEvidence } from '../../attestation/sample/verifier.ts';
import type { JsonValue } from '../../attestation/verifier.ts';
import { deviceReportData, primaryReportData } from '../../protocol/runtime-data.ts';
import type { TeePubKey } from '../../protocol/tee-key.ts';

export interface GuestAttester {
  /** KBS `Tee` of the primary (CPU) evidence, announced in /auth. */
  readonly tee: string;
  /** Primary evidence carrying `reportData` (the 48-byte runtime-data hash). */
  primary(reportData: Buffer): JsonValue | Promise<JsonValue>;
  /** Device evidence by KBS `Tee` (e.g. `nvidia`), each over `reportData`; absent or empty when there are none. */
  devices?(reportData: Buffer): Record<string, JsonValue> | Promise<Record<string, JsonValue>>;
}

/** KBS 0.4.0 `CompositeEvidence`: `additional` is the JSON string of the device map, "" without devices. */
export interface CompositeEvidence {
  primary: JsonValue;
  additional: string;
}

export async function compositeEvidence(attester: GuestAttester, nonce: string, teePubkey: TeePubKey): Promise<CompositeEvidence> {
  const devices = attester.devices ? await attester.devices(deviceReportData(nonce, teePubkey)) : {};
  const additional = Object.keys(devices).length > 0 ? JSON.stringify(devices) : '';
  return { primary: await attester.primary(primaryReportData(nonce, teePubkey, additional)), additional };
}

/**
 * The sample TEE (no hardware protection), optionally with a `sampledevice` GPU (like ENABLE_SAMPLE_DEVICE).
 * `initDataDigest`: the digest of the init-data the guest launched with, reported as `init_data`.
 */
export function sampleAttester(svn = '1', sampleDevice = false, initDataDigest?: Uint8Array): GuestAttester {
  return {
    tee: 'sample',
    primary: (reportData) => sampleEvidence(reportData, svn, initDataDigest),
    ...(sampleDevice ? { devices: (reportData: Buffer) => ({ sampledevice: sampleEvidence(reportData, '2') }) } : {}),
  };
}
