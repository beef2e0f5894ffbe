import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { AttestationPolicySpecSchema } from '../../api/attestation-policy.ts';
import { generateTeeKeyPair } from '../../protocol/tee-key.ts';
import type { VerifiedEvidence } from '../verifier.ts';
import { appraise } from './appraise.ts';
import { buildEarClaims, EarSigner, initDataDigestHexFromEar, teePubkeyFromEar, verifiedFromEar, verifyEar } from './ear.ts';

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '../../../test/fixtures/kbs/ear-token-claims-example.json'), 'utf8')) as Record<string, unknown>;
const at = new Date('2026-11-21T12:00:00Z');
const sample: VerifiedEvidence = { tee: 'sample', teeClass: 'cpu', claims: { svn: '1', report_data: 'cmQ=', launch_digest: 'abcde', debug: false }, warnings: [] };
const device: VerifiedEvidence = { tee: 'sampledevice', teeClass: 'gpu', claims: { svn: '2', report_data: 'cmQ=' }, warnings: [] };

function token(signer = EarSigner.generate(), when = at) {
  const tee = generateTeeKeyPair();
  const a = appraise([sample, device], AttestationPolicySpecSchema.parse({ allowSampleTee: true }), [], when);
  const claims = buildEarClaims(a, { policyId: 'default/dev', runtimeData: { nonce: 'N', teePubkey: tee.publicKey, additionalEvidence: '' }, at: when });
  return { signer, tee, claims, jwt: signer.sign(claims) };
}

describe('EAR tokens', () => {
  it('record init-data as trustee does: init_data = standard base64 of the digest, init_data_claims = the [data] table', () => {
    const digest = Buffer.alloc(48, 0xfe);
    const a = appraise([sample], AttestationPolicySpecSchema.parse({ allowSampleTee: true }), [], at);
    const claims = buildEarClaims(a, { policyId: 'p', runtimeData: { claims: { 'pubkey-hash': 'x' } }, at, initData: { digest, claims: { 'cai.agent': 'ns/a' } } });
    const ae = claims.submods['cpu0']!['ear.veraison.annotated-evidence'];
    expect(ae['init_data']).toBe(digest.toString('base64'));
    expect(ae['init_data']).not.toBe(digest.toString('hex'));
    expect(ae['init_data_claims']).toEqual({ 'cai.agent': 'ns/a' });
    expect(ae['runtime_data_claims']).toEqual({ 'pubkey-hash': 'x' });
    // The KBS compares hex digests: the reader converts back.
    expect(initDataDigestHexFromEar(claims)).toBe(digest.toString('hex'));
    ae['init_data'] = 'not base64!';
    expect(initDataDigestHexFromEar(claims)).toBeUndefined();
  });

  it('carry an x5c chain (base64url DER, as TNG decodes it) in the header jwk when given', () => {
    const { signer, claims } = token();
    const der = Buffer.from([0x30, 0x03, 0x02, 0x01, 0xfb]);
    const header = decodeProtectedHeader(signer.sign(claims, { x5c: [der] })) as { jwk: { x5c: string[] } };
    expect(header.jwk.x5c).toEqual([der.toString('base64url')]);
    expect((decodeProtectedHeader(signer.sign(claims)) as { jwk: Record<string, unknown> }).jwk).not.toHaveProperty('x5c');
  });

  it('use the trustee claims layout', () => {
    const { claims } = token();
    for (const k of Object.keys(fixture)) expect(claims).toHaveProperty([k]);
    const fxCpu = (fixture['submods'] as Record<string, Record<string, unknown>>)['cpu0']!;
    expect(Object.keys(claims.submods['cpu0']!).sort()).toEqual(Object.keys(fxCpu).sort());
    const ae = claims.submods['cpu0']!['ear.veraison.annotated-evidence'];
    expect(Object.keys(ae).sort()).toEqual(['report_data', 'runtime_data_claims', 'sample']);
    expect(claims.exp - claims.iat).toBe(300);
    expect(claims.submods['gpu0']!['ear.status']).toBe('warning');
  });

  it('is ES256 with an embedded jwk header; jose verifies it independently', async () => {
    const { signer, jwt, claims } = token();
    const header = decodeProtectedHeader(jwt);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT', jwk: { kty: 'EC', crv: 'P-256', alg: 'ES256' } });
    const { payload } = await jwtVerify(jwt, await importJWK(signer.publicJwk, 'ES256'), { currentDate: at });
    expect(payload).toEqual(claims);
  });

  it('verifyEar accepts the operator key and recovers the TEE key and evidence', () => {
    const { signer, jwt, tee } = token();
    const r = verifyEar(jwt, [signer.publicJwk], at);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(teePubkeyFromEar(r.claims)).toEqual(tee.publicKey);
    expect(verifiedFromEar(r.claims).map((v) => v.tee)).toEqual(['sample', 'sampledevice']);
  });

  it('refuses tokens signed by another key, tampered, expired or malformed, each with a code', () => {
    const { signer, jwt } = token();
    const other = EarSigner.generate();
    const code = (t: string, keys = [signer.publicJwk], when = at) => {
      const r = verifyEar(t, keys, when);
      return r.ok ? 'ok' : r.code;
    };
    expect(code(token(other).jwt)).toBe('EarUntrustedKey');
    // another key that claims to be ours in the header
    const forged = token(other).jwt.split('.');
    const h = JSON.parse(Buffer.from(forged[0]!, 'base64url').toString()) as { jwk: object };
    h.jwk = { ...signer.publicJwk, alg: 'ES256' };
    expect(code([Buffer.from(JSON.stringify(h)).toString('base64url'), forged[1], forged[2]].join('.'))).toBe('EarBadSignature');
    const [h0, p0, s0] = jwt.split('.');
    const p = JSON.parse(Buffer.from(p0!, 'base64url').toString()) as { exp: number };
    p.exp += 3600;
    expect(code([h0, Buffer.from(JSON.stringify(p)).toString('base64url'), s0].join('.'))).toBe('EarBadSignature');
    expect(code(jwt, [signer.publicJwk], new Date(at.getTime() + 3600_000))).toBe('EarExpired');
    expect(code('a.b')).toBe('EarMalformed');
    expect(code('a.b.c')).toBe('EarMalformed');
    const none = Buffer.from('{"alg":"none"}').toString('base64url');
    expect(code(`${none}.${p0}.${s0}`)).toBe('EarUnsupportedAlgorithm');
  });
});
