import { createHash, X509Certificate } from 'node:crypto';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { agentInitDataDigest } from '../../protocol/agent-init-data.ts';
import { jcsSha384 } from '../../protocol/runtime-data.ts';
import { policyRecord, tngShapedRequest } from '../../../test/support/as-harness.ts';
import { EarSigner } from '../policy/ear.ts';
import { defaultVerifierRegistry } from '../registry.ts';
import { sampleEvidence } from '../sample/verifier.ts';
import type { VerificationResult, Verifier } from '../verifier.ts';
import { anchorsPem, certDer, generateAsKeyset, initialCaState, type AsKeyset } from './ca.ts';
import { handleAttestation, handleCertificate, handleChallenge, type AsEvent, type AsHandlerDeps } from './handlers.ts';
import { jsonShapeProblem } from './messages.ts';
import { policyResolver } from './policy-source.ts';

const NS = 'team';
const T0 = Date.parse('2026-12-04T12:00:00Z');
const agent = { namespace: NS, name: 'a', uid: '11111111-2222-3333-4444-555555555555', policyName: 'dev', deleting: false };
let keyset: AsKeyset;
let deps: AsHandlerDeps;
const events: AsEvent[] = [];

beforeAll(async () => {
  keyset = await generateAsKeyset({ now: T0 });
  const state = initialCaState(keyset);
  deps = {
    registry: defaultVerifierRegistry(),
    resolve: policyResolver({
      policies: [
        policyRecord(NS, 'dev', { allowSampleTee: true, sample: { trustAsAffirming: true } }),
        policyRecord(NS, 'warn', { allowSampleTee: true }),
        policyRecord(NS, 'hw', { tdx: {} }),
        policyRecord(NS, 'unready', { allowSampleTee: true }, false),
        policyRecord(NS, 'pep', { allowSampleTee: true, sample: { trustAsAffirming: true }, sandboxPolicy: { requiredDigests: [`sha256:${'a'.repeat(64)}`] } }),
      ],
      agents: [agent, { ...agent, name: 'gone', deleting: true }],
      configMaps: {},
    }),
    signing: () => ({ signer: EarSigner.fromPem(keyset.signerKeyPem), x5c: [certDer(keyset.signerCertPem)] }),
    anchorsPem: () => anchorsPem(state, T0),
    now: () => T0,
    tokenTtlSeconds: 300,
    emit: (e) => events.push(e),
  };
});

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number; eat_profile: string; submods: Record<string, Record<string, unknown>> };
const errorOf = (body: string) => JSON.parse(body) as { error: string; detail: string };
const attest = (body: Buffer | string) => handleAttestation(deps, Buffer.from(body), '10.0.0.9');

describe('GET /certificate and POST /challenge', () => {
  it('serves the PEM anchors', () => {
    const r = handleCertificate(deps);
    expect(r.status).toBe(200);
    expect(new X509Certificate(r.body).fingerprint256).toBe(new X509Certificate(keyset.caCertPem).fingerprint256);
  });

  it('answers a challenge with a fresh nonce and a jwt signed by the AS key', async () => {
    const a = JSON.parse(handleChallenge(deps).body) as { nonce: string; extra_params: { jwt: string } };
    const b = JSON.parse(handleChallenge(deps).body) as { nonce: string };
    expect(Buffer.from(a.nonce, 'base64')).toHaveLength(32);
    expect(a.nonce).not.toBe(b.nonce);
    const key = await importJWK(EarSigner.fromPem(keyset.signerKeyPem).publicJwk, 'ES256');
    const { payload } = await jwtVerify(a.extra_params.jwt, key, { currentDate: new Date(T0) });
    expect(payload['nonce']).toBe(a.nonce);
  });
});

describe('the JSON shape pre-scan', () => {
  it('counts depth and values outside strings only, honouring escapes', () => {
    const b = (t: string) => Buffer.from(t);
    expect(jsonShapeProblem(b('{"a":"[[[[","b":"\\"[[[["}'), 2, 100)).toBeUndefined();
    expect(jsonShapeProblem(b('{"a":"x\\\\"}'), 1, 100)).toBeUndefined();
    expect(jsonShapeProblem(b('{"a":"x\\\\",[[]]}'), 2, 100)).toBe('the body nests JSON deeper than 2 levels');
    expect(jsonShapeProblem(b('[' + '1,'.repeat(10) + '1]'), 5, 5)).toBe('the body has more than 5 JSON values');
    expect(jsonShapeProblem(b('"unterminated'), 1, 1)).toBeUndefined();
  });
});

describe('POST /attestation', () => {
  it('issues a Trustee-layout EAR: jwk with an x5c chaining to the anchor, exp, affirming submod, the policy id, runtime_data_claims as sent', async () => {
    const { body, runtimeData } = tngShapedRequest({ policyId: `${NS}/dev` });
    const r = await attest(body);
    expect(r.status).toBe(200);
    const header = decodeProtectedHeader(r.body) as { alg: string; jwk: { x5c: string[]; x: string } };
    expect(header.alg).toBe('ES256');
    const leaf = new X509Certificate(Buffer.from(header.jwk.x5c[0]!, 'base64url'));
    expect(leaf.verify(new X509Certificate(keyset.caCertPem).publicKey)).toBe(true);
    expect(leaf.publicKey.export({ format: 'jwk' }).x).toBe(header.jwk.x);
    const c = claimsOf(r.body);
    expect(c.eat_profile).toBe('tag:github.com,2024:confidential-containers/Trustee');
    expect(c.exp - c.iat).toBe(300);
    expect(c.iat).toBe(T0 / 1000);
    const cpu = c.submods['cpu0']!;
    expect(cpu['ear.status']).toBe('affirming');
    expect(cpu['ear.appraisal-policy-id']).toBe(`${NS}/dev`);
    expect((cpu['ear.veraison.annotated-evidence'] as Record<string, unknown>)['runtime_data_claims']).toEqual(runtimeData);
  });

  it('records init-data in trustee encoding (base64 digest, [data] claims) when the request carries init_data_toml', async () => {
    const toml = 'algorithm = "sha256"\nversion = "0.1.0"\n\n[data]\n"cai.agent" = "team/a"\n';
    const rd = { 'pubkey-hash': 'x' };
    const body = JSON.parse(tngShapedRequest({ policyId: `${NS}/dev`, runtimeData: rd }).body.toString()) as { verification_requests: Array<Record<string, unknown>> };
    body.verification_requests[0]!['init_data'] = { init_data_toml: toml };
    const r = await attest(JSON.stringify(body));
    const ae = claimsOf(r.body).submods['cpu0']!['ear.veraison.annotated-evidence'] as Record<string, unknown>;
    expect(ae['init_data']).toBe(createHash('sha256').update(toml).digest('base64'));
    expect(ae['init_data_claims']).toEqual({ 'cai.agent': 'team/a' });
  });

  it('sample evidence under a policy that does not trust it as affirming gets a warning token (TNG refuses it)', async () => {
    const r = await attest(tngShapedRequest({ policyId: `${NS}/warn` }).body);
    expect(r.status).toBe(200);
    expect(claimsOf(r.body).submods['cpu0']!['ear.status']).toBe('warning');
  });

  it('evidence bound to other runtime data gets a contraindicated token naming the failed check, not a refusal', async () => {
    const r = await attest(tngShapedRequest({ policyId: `${NS}/dev`, evidence: () => sampleEvidence(Buffer.alloc(48, 1)) }).body);
    const cpu = claimsOf(r.body).submods['cpu0']!;
    expect(cpu['ear.status']).toBe('contraindicated');
    expect((cpu['ear.veraison.annotated-evidence'] as Record<string, unknown>)['verification_failure']).toEqual({ code: 'ReportDataMismatch' });
  });

  it('an agent-scoped id requires the agent\'s init-data in the evidence (instance identity)', async () => {
    const id = `${NS}/dev/a`;
    const own = await attest(tngShapedRequest({ policyId: id, initDataDigest: agentInitDataDigest(agent) }).body);
    expect(claimsOf(own.body).submods['cpu0']!['ear.status']).toBe('affirming');
    for (const digest of [agentInitDataDigest({ ...agent, uid: 'other-uid' }), undefined]) {
      const r = await attest(tngShapedRequest({ policyId: id, ...(digest ? { initDataDigest: digest } : {}) }).body);
      const cpu = claimsOf(r.body).submods['cpu0']!;
      expect(cpu['ear.status']).toBe('contraindicated');
      expect((cpu['ear.trustworthiness-vector'] as Record<string, number>)['instance-identity']).toBe(96);
    }
  });

  it('a policy that requires a sandbox policy digest the guest does not report is contraindicated', async () => {
    const r = await attest(tngShapedRequest({ policyId: `${NS}/pep` }).body);
    expect(claimsOf(r.body).submods['cpu0']!['ear.status']).toBe('contraindicated');
  });

  it.each([
    ['not JSON', '{', 'MalformedRequest', 'the body is not JSON'],
    ['the 1.5.2 shape', JSON.stringify({ tee: 'sample', evidence: 'e30', policy_ids: ['team/dev'] }), 'MalformedRequest', 'verification_requests must be an array'],
    ['no requests', JSON.stringify({ verification_requests: [], policy_ids: ['team/dev'] }), 'MalformedRequest', 'verification_requests must hold 1..17 entries'],
    ['two policy ids', JSON.stringify({ ...JSON.parse(tngShapedRequest({ policyId: 'team/dev' }).body.toString()), policy_ids: ['team/dev', 'team/warn'] }), 'UnsupportedPolicyCount', 'exactly one policy id'],
    ['no policy id', JSON.stringify({ ...JSON.parse(tngShapedRequest({ policyId: 'team/dev' }).body.toString()), policy_ids: [] }), 'UnsupportedPolicyCount', 'exactly one policy id'],
    ['a bad policy id', tngShapedRequest({ policyId: 'default' }).body.toString(), 'InvalidPolicyId', 'a policy id is <namespace>/<AttestationPolicy>'],
    ['an upper-case namespace', tngShapedRequest({ policyId: 'Team/dev' }).body.toString(), 'InvalidPolicyId', 'namespace is not a DNS label'],
    ['an unknown policy', tngShapedRequest({ policyId: 'team/none' }).body.toString(), 'PolicyNotFound', 'AttestationPolicy team/none does not exist'],
    ['a policy not Ready', tngShapedRequest({ policyId: 'team/unready' }).body.toString(), 'PolicyNotReady', 'is not Ready'],
    ['an unknown agent', tngShapedRequest({ policyId: 'team/dev/zed' }).body.toString(), 'AgentNotFound', 'ConfidentialAgent team/zed does not exist'],
    ['a deleting agent', tngShapedRequest({ policyId: 'team/dev/gone' }).body.toString(), 'AgentNotFound', 'is being deleted'],
    ['an agent on another policy', tngShapedRequest({ policyId: 'team/warn/a' }).body.toString(), 'AgentPolicyMismatch', 'is gated on AttestationPolicy dev, not warn'],
    ['a TEE the policy does not accept', tngShapedRequest({ policyId: 'team/hw' }).body.toString(), 'TeeNotAllowed', 'does not allow the sample TEE'],
    ['an unknown TEE', tngShapedRequest({ policyId: 'team/dev', tee: 'snp' }).body.toString(), 'TeeNotAllowed', "TEE type 'snp' is not supported"],
  ])('refuses %s with a coded error and signs nothing', async (_label, body, code, detail) => {
    const before = events.filter((e) => e.type === 'token-issued').length;
    const r = await attest(body);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(errorOf(r.body).error).toBe(code);
    expect(errorOf(r.body).detail).toContain(detail);
    expect(events.filter((e) => e.type === 'token-issued').length).toBe(before);
  });

  const entry = (patch: Record<string, unknown>) => {
    const body = JSON.parse(tngShapedRequest({ policyId: 'team/dev' }).body.toString()) as { verification_requests: Array<Record<string, unknown>> };
    Object.assign(body.verification_requests[0]!, patch);
    return JSON.stringify(body);
  };
  it.each([
    ['evidence that is not base64url', { evidence: 'a+b/' }, 'verification_requests[0].evidence is not base64url'],
    ['evidence that is not JSON', { evidence: Buffer.from('nope').toString('base64url') }, 'does not decode to JSON'],
    ['evidence nested too deep', { evidence: Buffer.from('['.repeat(40) + ']'.repeat(40)).toString('base64url') }, 'evidence: it nests JSON deeper than 32 levels'],
    ['no runtime data on the primary', { runtime_data: null }, 'verification_requests[0] (the primary evidence) must carry runtime_data'],
    ['an unknown hash algorithm', { runtime_data_hash_algorithm: 'md5' }, 'must be sha256, sha384 or sha512'],
    ['runtime data that is neither structured nor raw', { runtime_data: { other: 1 } }, 'must be {"structured": <JSON object>} or {"raw": <base64>}'],
    ['raw runtime data over 64 bytes', { runtime_data: { raw: Buffer.alloc(65).toString('base64') } }, 'raw must be the base64 of 1..64 bytes'],
    ['an init_data digest of 8 bytes', { init_data: { init_data_digest: Buffer.alloc(8).toString('base64') } }, 'init_data_digest must be the base64 of a 32..64-byte digest'],
    ['an init-data algorithm sm3', { init_data: { init_data_toml: 'algorithm = "sm3"\n' } }, 'algorithm must be sha256, sha384 or sha512'],
    ['a TEE name with upper case', { tee: 'SAMPLE' }, 'tee must be a TEE name'],
  ])('refuses %s, naming the field', async (_label, patch, detail) => {
    const r = await attest(entry(patch));
    expect(r.status).toBe(400);
    expect(errorOf(r.body)).toMatchObject({ error: 'MalformedRequest' });
    expect(errorOf(r.body).detail).toContain(detail);
  });

  it('raw runtime data is compared as is; sha512 structured runtime data hashes with sha512', async () => {
    const raw = Buffer.alloc(48, 9);
    const rawBody = entry({ runtime_data: { raw: raw.toString('base64') }, evidence: Buffer.from(JSON.stringify(sampleEvidence(raw))).toString('base64url') });
    expect(claimsOf((await attest(rawBody)).body).submods['cpu0']!['ear.status']).toBe('affirming');
    const rd = { k: 'v' };
    const h512 = createHash('sha512').update('{"k":"v"}').digest();
    const b512 = entry({ runtime_data: { structured: rd }, runtime_data_hash_algorithm: 'sha512', evidence: Buffer.from(JSON.stringify(sampleEvidence(h512))).toString('base64url') });
    expect(claimsOf((await attest(b512)).body).submods['cpu0']!['ear.status']).toBe('affirming');
    expect(jcsSha384(rd)).not.toEqual(h512.subarray(0, 48));
  });

  it('the response never echoes request bytes (only validated Kubernetes names of the policy id)', async () => {
    const marker = 'ECHO-MARKER-9f2c';
    for (const body of [tngShapedRequest({ policyId: `${NS}/${marker}` }).body.toString(), entry({ tee: marker }), entry({ evidence: marker }), entry({ runtime_data_hash_algorithm: marker })]) {
      expect((await attest(body)).body.toLowerCase()).not.toContain(marker.toLowerCase());
    }
  });

  it('checks an OHTTP challenge_token: one it issued and unexpired passes; forged or expired is refused', async () => {
    const { extra_params } = JSON.parse(handleChallenge(deps).body) as { extra_params: { jwt: string } };
    const withToken = (token: string) => tngShapedRequest({ policyId: 'team/dev', runtimeData: { challenge_token: token, hpke_key_config: { expire_timestamp: 1 } } }).body;
    expect(claimsOf((await attest(withToken(extra_params.jwt))).body).submods['cpu0']!['ear.status']).toBe('affirming');
    const forged = EarSigner.generate().signJson({ nonce: 'n', iat: T0 / 1000, exp: T0 / 1000 + 300 });
    const expired = EarSigner.fromPem(keyset.signerKeyPem).signJson({ nonce: 'n', iat: 0, exp: T0 / 1000 - 1 });
    for (const [token, detail] of [
      [forged, 'was not issued by this attestation service'],
      [expired, 'has expired'],
      ['x.y', 'is not a compact JWS'],
    ] as const) {
      const r = await attest(withToken(token));
      expect([r.status, errorOf(r.body).error]).toEqual([400, 'ChallengeInvalid']);
      expect(errorOf(r.body).detail).toContain(detail);
    }
  });

  it('device evidence of a CPU TEE in an additional slot is refused', async () => {
    const body = JSON.parse(tngShapedRequest({ policyId: 'team/dev' }).body.toString()) as { verification_requests: unknown[] };
    body.verification_requests.push(body.verification_requests[0]);
    const r = await attest(JSON.stringify(body));
    expect(errorOf(r.body)).toMatchObject({ error: 'MalformedRequest', detail: 'verification_requests[1]: sample evidence cannot be additional (device) evidence' });
  });

  it('a verifier that throws yields a contraindicated token (VerifierError), never a 500', async () => {
    const throwing: Verifier = { tee: 'sample', verify: (): Promise<VerificationResult> => Promise.reject(new Error('boom')) };
    const r = await handleAttestation({ ...deps, registry: defaultVerifierRegistry([throwing]) }, tngShapedRequest({ policyId: 'team/dev' }).body, '10.0.0.9');
    expect(r.status).toBe(200);
    expect(claimsOf(r.body).submods['cpu0']!['ear.veraison.annotated-evidence']).toMatchObject({ verification_failure: { code: 'VerifierError' } });
  });
});
