import { describe, expect, it } from 'vitest';
import { agentScopedId, formatPolicyId, parsePolicyId, policyScopedId } from './policy-id.ts';

describe('policy ids', () => {
  it('round-trips the policy-scoped and agent-scoped forms', () => {
    expect(parsePolicyId(policyScopedId('team', 'prod.v1'))).toEqual({ ok: true, id: { kind: 'policy', namespace: 'team', policy: 'prod.v1' } });
    const a = parsePolicyId(agentScopedId('team', 'prod', 'agent-1'));
    expect(a).toEqual({ ok: true, id: { kind: 'agent', namespace: 'team', policy: 'prod', agent: 'agent-1' } });
    expect(a.ok && formatPolicyId(a.id)).toBe('team/prod/agent-1');
  });

  it.each([
    ['default', '<namespace>/<AttestationPolicy>'],
    ['a/b/c/d', '<namespace>/<AttestationPolicy>'],
    ['', '1..'],
    ['Team/p', 'namespace is not a DNS label'],
    [`${'n'.repeat(64)}/p`, 'namespace is not a DNS label'],
    ['ns/-p', 'AttestationPolicy name is not a DNS subdomain'],
    ['ns/p/a_b', 'ConfidentialAgent name is not a DNS subdomain'],
    ['ns/p/' + 'a'.repeat(600), '1..'],
  ])('refuses %j', (text, message) => {
    const r = parsePolicyId(text);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain(message);
  });
});
