import * as prom from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DomainMetrics } from './domain.ts';
import { boundedLabel, objectLabel } from './labels.ts';

describe('label hygiene', () => {
  it('keeps identifiers and replaces anything else', () => {
    expect(boundedLabel('TcbOutOfDate')).toBe('TcbOutOfDate');
    expect(boundedLabel('InvalidParameter.InstanceType')).toBe('InvalidParameter.InstanceType');
    for (const hostile of ['', ' ', 'a'.repeat(64), 'HTTP 403 internal-only: db-password=hunter2', 'x\ny', '{"a":1}', '0abc', undefined]) {
      expect(boundedLabel(hostile)).toBe('Other');
    }
    expect(objectLabel('bank-prod')).toBe('bank-prod');
    expect(objectLabel('Bank_Prod')).toBe('invalid');
  });
});

describe('DomainMetrics', () => {
  it('records attestations, failures by reason, and never a hostile string as a label', async () => {
    const registry = new prom.Registry();
    const m = new DomainMetrics(registry);
    m.attestation('tdx', 'pass');
    m.attestation('tdx', 'fail', 'TcbOutOfDate');
    m.attestation('tdx', 'fail', 'nonce=8f2a… from 10.0.0.7');
    m.cloudRequest('alibaba', 'RunInstances', 'Throttling.User');
    m.collateral('00806F050000', 'tcb_info', new Date('2027-01-01T00:00:00Z'));
    m.collateral('not-an-fmspc', 'tcb_info', new Date());
    m.kbsRequest('attest', 413);
    m.kbsRequest('auth', 9999);
    const text = await registry.metrics();
    expect(text).toContain('confidential_agent_attestations_total{tee="tdx",result="fail"} 2');
    expect(text).toContain('confidential_agent_attestation_failures_total{tee="tdx",reason="TcbOutOfDate"} 1');
    expect(text).toContain('confidential_agent_attestation_failures_total{tee="tdx",reason="Unknown"} 1');
    expect(text).toContain('confidential_agent_cloud_api_requests_total{provider="alibaba",action="RunInstances",code="Throttling.User"} 1');
    expect(text).toContain('confidential_agent_tdx_collateral_next_update_timestamp_seconds{fmspc="00806F050000",kind="tcb_info"} 1798761600');
    expect(text).not.toContain('not-an-fmspc');
    expect(text).not.toContain('nonce');
    expect(text).toContain('confidential_agent_kbs_requests_total{endpoint="auth",code="0"} 1');
  });

  it('counts attestation-service tokens by EAR status and refusals by code, from 0, with no other label value', async () => {
    const registry = new prom.Registry();
    const m = new DomainMetrics(registry);
    let text = await registry.metrics();
    // Initialised: an alert on increase() sees the first refusal, and no code is missing from a dashboard.
    expect(text).toContain('confidential_agent_attestation_service_refusals_total{code="Busy"} 0');
    expect(text).toContain('confidential_agent_attestation_service_tokens_total{status="affirming"} 0');
    m.asToken('affirming');
    m.asToken('contraindicated');
    m.asToken('affirming\n# HELP injected');
    m.asRefusal('Busy');
    m.asRefusal('PolicyNotFound: bank-prod/payments');
    m.asChallenge();
    text = await registry.metrics();
    expect(text).toContain('confidential_agent_attestation_service_tokens_total{status="affirming"} 1');
    expect(text).toContain('confidential_agent_attestation_service_tokens_total{status="contraindicated"} 1');
    expect(text).toContain('confidential_agent_attestation_service_tokens_total{status="none"} 1');
    expect(text).toContain('confidential_agent_attestation_service_refusals_total{code="Busy"} 1');
    expect(text).toContain('confidential_agent_attestation_service_refusals_total{code="Other"} 1');
    expect(text).toContain('confidential_agent_attestation_service_challenges_total 1');
    expect(text).not.toContain('injected');
    expect(text).not.toContain('bank-prod');
  });

  it('tracks log consistency per policy and forgets deleted policies', async () => {
    const registry = new prom.Registry();
    const m = new DomainMetrics(registry);
    m.logChecked('ns', 'pol', new Date(1_000_000), true);
    m.logChecked('ns', 'forked', new Date(2_000_000), false);
    let text = await registry.metrics();
    expect(text).toContain('confidential_agent_transparency_log_inconsistent{namespace="ns",name="forked"} 1');
    expect(text).toContain('confidential_agent_transparency_log_inconsistent{namespace="ns",name="pol"} 0');
    expect(text).toContain('confidential_agent_transparency_log_last_consistency_check_timestamp_seconds{namespace="ns",name="pol"} 1000');
    m.forgetPolicy('ns', 'forked');
    text = await registry.metrics();
    expect(text).not.toContain('name="forked"');
  });
});
