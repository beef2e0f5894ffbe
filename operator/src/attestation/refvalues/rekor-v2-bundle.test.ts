// Rekor v2 (rekor-tiles) bundles as reference values, pinned to the builder's key: a hashedrekord 0.0.2
// entry over the DSSE PAE with an inclusion proof and signed checkpoint, time from an RFC 3161 timestamp.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rekorV2Bundle } from '../../../test/support/rekor-v2.ts';
import { RefValuesError } from './errors.ts';
import { resolveReferenceValues } from './resolve.ts';
import { verifyReferenceBundle } from './reference-bundle.ts';
import { buildStatement } from './statement.ts';
import { parseTrustedRoot } from './trust.ts';

const ID = 'cai-uki';
const UKI = '7c'.repeat(48);
const builder = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const statement = Buffer.from(JSON.stringify(buildStatement({ artifactId: ID, artifactVersion: '3.0', artifactType: 'uki', sha384: UKI })));
const policy = { publicKey: builder.publicKey, artifactId: ID, allowedVersions: ['3.0'] };
const reason = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof RefValuesError) return e.reason;
    throw e;
  }
  return 'ok';
};

describe('Rekor v2 bundles', () => {
  it('verify under the builder key and give the UKI digest', async () => {
    const fx = await rekorV2Bundle({ statement, signingKey: builder });
    const v = verifyReferenceBundle(fx.bundleJson, parseTrustedRoot(fx.trustedRootJson), policy, new Date());
    expect(v).toMatchObject({ sha384: UKI, version: '3.0', logIndex: 5 });
  });

  it('resolve through a bundle source', async () => {
    const fx = await rekorV2Bundle({ statement, signingKey: builder });
    const files: Record<string, string> = { b: fx.bundleJson, r: fx.trustedRootJson };
    const spec = { bundle: { configMapRef: { name: 'cm', key: 'b' }, trustedRootRef: { name: 'cm', key: 'r' }, publicKey: builder.publicKey.export({ type: 'spki', format: 'pem' }).toString(), artifactId: ID, allowedVersions: ['3.0'] } };
    const r = await resolveReferenceValues(spec, { rekorClient: () => { throw new Error('no log for a bundle'); }, readConfigMap: async (_n, k) => files[k] }, undefined, new Date());
    expect(r).toEqual({ ok: true, values: [{ name: 'measurement.uki.SHA-384', digest: UKI, version: '3.0', logIndex: 5 }] });
  });

  it('refuses another signer, a missing timestamp and a tampered checkpoint', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const byOther = await rekorV2Bundle({ statement, signingKey: other });
    expect(reason(() => verifyReferenceBundle(byOther.bundleJson, parseTrustedRoot(byOther.trustedRootJson), policy, new Date()))).toBe('SignatureInvalid');
    const untimed = await rekorV2Bundle({ statement, signingKey: builder, withTimestamp: false });
    expect(reason(() => verifyReferenceBundle(untimed.bundleJson, parseTrustedRoot(untimed.trustedRootJson), policy, new Date()))).toBe('BundleInvalid');
    const fx = await rekorV2Bundle({ statement, signingKey: builder });
    const tampered = fx.bundleJson.replace(/log2026-test\.rekor\.example\\n(\d+)/, (_m, n: string) => `log2026-test.rekor.example\\n${Number(n) + 1}`);
    expect(tampered).not.toBe(fx.bundleJson);
    expect(reason(() => verifyReferenceBundle(tampered, parseTrustedRoot(fx.trustedRootJson), policy, new Date()))).toMatch(/CheckpointInvalid|InclusionProofInvalid/);
  });
});
