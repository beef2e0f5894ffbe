import { describe, expect, it } from 'vitest';
import { parseTngConfig, renderEgress, renderIngress, TngConfigError } from './tng-config.ts';

const ingress = { listen: { host: '0.0.0.0', port: 18789 }, upstream: { host: '10.0.1.20', port: 41000 }, asUrl: 'http://as.ns.svc:8082', policyId: 'team-a/prod', mode: 'rats-tls' as const };

describe('TNG config rendering', () => {
  it('renders the gateway ingress: mapping, rats-TLS, verify against the AS with the policy id', () => {
    const c = JSON.parse(renderIngress(ingress));
    expect(c).toEqual({
      add_ingress: [
        {
          mapping: { rules: [{ in: { host: '0.0.0.0', port: 18789 }, out: { host: '10.0.1.20', port: 41000 } }] },
          rats_tls: { multiplex: false },
          verify: { as_addr: 'http://as.ns.svc:8082', policy_ids: ['team-a/prod'] },
        },
      ],
    });
  });

  it('OHTTP is selectable and excludes rats_tls', () => {
    const c = JSON.parse(renderIngress({ ...ingress, mode: 'ohttp' }));
    expect(c.add_ingress[0].ohttp).toEqual({});
    expect(c.add_ingress[0].rats_tls).toBeUndefined();
  });

  it('renders a guest egress attesting through an ASR endpoint or the AA socket (background check)', () => {
    const asr = JSON.parse(renderEgress({ listen: { host: '0.0.0.0', port: 41000 }, workload: { host: '127.0.0.1', port: 18789 }, mode: 'rats-tls', attester: { asr: 'http://127.0.0.1:8006' } }));
    expect(asr.add_egress[0].attest).toEqual({ aa_provider: 'coco_asr', asr_addr: 'http://127.0.0.1:8006', model: 'background_check' });
    const aa = JSON.parse(renderEgress({ listen: { host: '0.0.0.0', port: 41000 }, workload: { host: '127.0.0.1', port: 18789 }, mode: 'rats-tls', attester: { aaSocket: '/run/confidential-containers/attestation-agent/attestation-agent.sock' } }));
    expect(aa.add_egress[0].attest).toEqual({ aa_addr: 'unix:///run/confidential-containers/attestation-agent/attestation-agent.sock', model: 'background_check' });
  });

  it('refuses to render what TNG would misread: bad policy id, bad URL, bad host', () => {
    expect(() => renderIngress({ ...ingress, policyId: 'default' })).toThrow(/add_ingress\.0\.verify\.policy_ids\.0: <namespace>\/<policy>\[\/<agent>\]/);
    expect(() => renderIngress({ ...ingress, policyId: 'a/b/c/d' })).toThrow(/policy_ids/);
    expect(JSON.parse(renderIngress({ ...ingress, policyId: 'team-a/prod/web', asCaPath: '/etc/tng/as-ca.pem' })).add_ingress[0].verify).toEqual({
      as_addr: 'http://as.ns.svc:8082',
      policy_ids: ['team-a/prod/web'],
      trusted_certs_paths: ['/etc/tng/as-ca.pem'],
    });
    expect(() => renderIngress({ ...ingress, asCaPath: 'relative.pem' })).toThrow(/trusted_certs_paths\.0: an absolute path/);
    expect(() => renderIngress({ ...ingress, asUrl: 'file:///etc/passwd' })).toThrow(/verify\.as_addr/);
    expect(() => renderIngress({ ...ingress, upstream: { host: 'a b', port: 1 } })).toThrow(/mapping\.rules\.0\.out\.host/);
    expect(() => renderIngress({ ...ingress, listen: { host: '0.0.0.0', port: 70000 } })).toThrow(/in\.port/);
  });
});

describe('parseTngConfig (hostile input: TNG ignores unknown fields, so the operator must not)', () => {
  const good = renderIngress(ingress);
  it('accepts what the renderer produced', () => {
    expect(parseTngConfig(good).add_ingress?.[0]?.verify.policy_ids).toEqual(['team-a/prod']);
  });
  it.each([
    ['a misspelt verify (would be an unverified tunnel)', good.replace('"verify"', '"verfy"'), /add_ingress\.0\.verify|Unrecognized key.*verfy/],
    ['an unknown top-level field', JSON.stringify({ ...JSON.parse(good), admin_bind: { port: 1 } }), /admin_bind/],
    ['no_ra smuggled into the ingress', JSON.stringify({ add_ingress: [{ ...JSON.parse(good).add_ingress[0], no_ra: true }] }), /no_ra/],
    ['two policy ids', JSON.stringify({ add_ingress: [{ ...JSON.parse(good).add_ingress[0], verify: { as_addr: 'http://as', policy_ids: ['team-a/prod', 'team-a/other'] } }] }), /policy_ids/],
    ['both transports', JSON.stringify({ add_ingress: [{ ...JSON.parse(good).add_ingress[0], ohttp: {} }] }), /mutually exclusive/],
    ['no entry', '{}', /exactly one add_ingress or add_egress/],
    ['not JSON', '{"add_ingress":', /not JSON/],
    ['oversized', ' '.repeat(70_000), /exceeds the 65536-byte limit/],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseTngConfig(text)).toThrow(TngConfigError);
    expect(() => parseTngConfig(text)).toThrow(message);
  });
});
