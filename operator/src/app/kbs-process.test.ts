// `cai kbs` flags: the standalone KBS takes the operator's egress allow-lists (it verifies GPU evidence, which
// fetches RIMs and OCSP answers), with the same defaults and the same validation.
import { describe, expect, it } from 'vitest';
import { parseKbsProcessConfig } from './kbs-process.ts';

describe('parseKbsProcessConfig egress', () => {
  it('defaults to the public endpoints; flags replace them; a bad prefix names its flag', () => {
    expect(parseKbsProcessConfig([], {}).egress).toEqual({
      allowedRekorUrls: ['https://rekor.sigstore.dev/'],
      allowedPccsUrls: ['https://api.trustedservices.intel.com/'],
      allowedRimUrls: ['https://rim.attestation.nvidia.com/'],
      allowedOcspUrls: ['https://ocsp.ndis.nvidia.com/'],
    });
    const set = parseKbsProcessConfig(['--allowed-rim-urls', 'https://rim.mirror.example/v1/', '--allowed-ocsp-urls', ''], {}).egress;
    expect(set.allowedRimUrls).toEqual(['https://rim.mirror.example/v1/']);
    expect(set.allowedOcspUrls).toEqual([]);
    expect(() => parseKbsProcessConfig(['--allowed-pccs-urls', 'ftp://x/'], {})).toThrow(/--allowed-pccs-urls/);
  });
});
