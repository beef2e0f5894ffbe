import { describe, expect, it } from 'vitest';
import { deviceReportData, jcsSha384, primaryReportData } from './runtime-data.ts';
import type { TeePubKey } from './tee-key.ts';

const pk: TeePubKey = { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: 'A'.repeat(43), y: 'B'.repeat(43) };

describe('KBS 0.4.0 runtime-data binding', () => {
  it('matches the attestation-service JCS + SHA-384 test vector', () => {
    expect(jcsSha384({ b: 1, a: 'test', c: { d: 'e' } }).toString('hex')).toBe(
      'e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3',
    );
  });

  it('hashes the primary runtime data with sorted keys and the additional-evidence string', async () => {
    const { createHash } = await import('node:crypto');
    const text = `{"additional-evidence":"","nonce":"N","tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"${pk.kty === 'EC' ? pk.x : ''}","y":"${pk.kty === 'EC' ? pk.y : ''}"}}`;
    expect(primaryReportData('N', pk, '').equals(createHash('sha384').update(text).digest())).toBe(true);
    expect(primaryReportData('N', pk, '{"sampledevice":{}}').equals(primaryReportData('N', pk, ''))).toBe(false);
  });

  it('device/injection binding omits additional-evidence and differs per nonce', () => {
    expect(deviceReportData('N', pk)).toHaveLength(48);
    expect(deviceReportData('N', pk).equals(deviceReportData('M', pk))).toBe(false);
    expect(deviceReportData('N', pk).equals(primaryReportData('N', pk, ''))).toBe(false);
  });
});
