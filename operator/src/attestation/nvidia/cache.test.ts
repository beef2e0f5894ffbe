import { describe, expect, it } from 'vitest';
import { H100_2023, failure } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { makeCert, makeTestPki } from '../../../test/fixtures/nvidia/support/test-pki.ts';
import { VerificationCache } from './cache.ts';
import { loadTrustAnchors } from './roots.ts';
import { parsePemChain, type ParsedCert } from './x509-chain.ts';

const pki = makeTestPki();
const leaf = makeCert({ cn: 'Windowed leaf', issuer: pki.deviceProvisioner, ca: false, notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') });
const pem = [leaf, pki.deviceProvisioner, pki.deviceIdentity].map((c) => c.pem).join('');
const root = parsePemChain(pki.deviceRoot.pem, 'root')[0] as ParsedCert;
const { rimRoot } = loadTrustAnchors();

describe('VerificationCache', () => {
  it('parses a PEM chain once', () => {
    const cache = new VerificationCache();
    const chain = cache.parseChain(pem);
    expect(cache.parseChain(pem)).toBe(chain);
    expect(cache.parseChain(`${pem}\n`)).not.toBe(chain);
    expect(chain.map((c) => c.name)).toEqual(['Windowed leaf', 'Test GH100 Provisioner ICA', 'Test GH100 Identity']);
    expect(failure(() => cache.parseChain('junk')).message).toBe('device certificate chain contains no PEM certificate');
  });

  it('reuses a device chain verification only inside its validity window (inclusive), and verifies again outside it', () => {
    const cache = new VerificationCache();
    const chain = cache.parseChain(pem);
    const window = cache.verifyDeviceChain(chain, root, new Date('2026-01-01T00:00:00Z'));
    expect(window).toEqual({ notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') });
    expect(cache.verifyDeviceChain(chain, root, new Date('2025-01-01T00:00:00Z'))).toBe(window);
    expect(cache.verifyDeviceChain(chain, root, new Date('2030-01-01T00:00:00Z'))).toBe(window);
    expect(failure(() => cache.verifyDeviceChain(chain, root, new Date('2030-01-01T00:00:01Z'))).code).toBe('DeviceCertExpired');
    expect(failure(() => cache.verifyDeviceChain(chain, root, new Date('2024-12-31T23:59:59Z'))).code).toBe('DeviceCertExpired');
    // The same chain under another root is another entry.
    const otherRoot = parsePemChain(makeTestPki().deviceRoot.pem, 'root')[0] as ParsedCert;
    expect(failure(() => cache.verifyDeviceChain(chain, otherRoot, new Date('2026-01-01T00:00:00Z'))).code).toBe('DeviceChainUntrusted');
  });

  it('reuses a RIM verification only inside its window, and tells the observer the earliest signing-chain expiry', () => {
    const seen: string[] = [];
    const cache = new VerificationCache(8, { rimSigningExpiry: (d) => seen.push(d.toISOString()) });
    const at = H100_2023.pinnedTime;
    const vbios = cache.verifyRim(H100_2023.vbiosRim, rimRoot, at, 'vbios');
    expect(cache.verifyRim(H100_2023.vbiosRim, rimRoot, at, 'vbios')).toBe(vbios);
    cache.verifyRim(H100_2023.driverRim, rimRoot, at, 'driver');
    // The VBIOS RIM's chain (2025-06-22) expires before the driver RIM's (2025-06-26); cache hits are not reported.
    expect(seen).toEqual(['2025-06-22T09:38:54.000Z', '2025-06-22T09:38:54.000Z']);
    const err = failure(() => cache.verifyRim(H100_2023.driverRim, rimRoot, H100_2023.afterRimExpiry, 'driver RIM'));
    expect(err.code).toBe('RimCertExpired');
    expect(err.message).toMatch(/^driver RIM: /);
    expect(new VerificationCache().verifyRim(H100_2023.driverRim, rimRoot, at, 'driver').window.notAfter.toISOString()).toBe('2025-06-26T06:10:12.000Z');
  });
});
