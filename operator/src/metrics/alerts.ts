// The alerting rules, as data: rendered to a plain Prometheus rules file (monitoring/) and to the chart's
// PrometheusRule, checked by promtool, and unit-tested with `promtool test rules`. Each alert links its
// section of docs/runbooks.md.
import { METRIC as M } from './names.ts';

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  severity: 'info' | 'warning' | 'critical';
  summary: string;
  description: string;
}

const DAY = 86_400;

export const ALERTS: readonly AlertRule[] = [
  {
    alert: 'AgentNotReady',
    expr: `max by (namespace, name, reason) (${M.agentCondition}{condition="Ready",status!="True"}) == 1`,
    for: '15m',
    severity: 'warning',
    summary: 'ConfidentialAgent {{ $labels.namespace }}/{{ $labels.name }} is not Ready',
    description: 'The agent has not been Ready for 15 minutes; reason {{ $labels.reason }}. `kubectl cai status -n {{ $labels.namespace }} {{ $labels.name }}` shows which phase holds it.',
  },
  {
    alert: 'AttestationFailing',
    expr: `sum by (tee, reason) (increase(${M.attestationFailures}[10m])) > 0`,
    for: '5m',
    severity: 'warning',
    summary: 'Attestations fail with {{ $labels.reason }}',
    description: '{{ $value | humanize }} {{ $labels.tee }} attestations failed with {{ $labels.reason }} in the last 10 minutes; no credential is released to those instances.',
  },
  {
    alert: 'ReleaseRefused',
    expr: `sum by (mode) (increase(${M.releases}{result="refused"}[15m])) > 0`,
    for: '5m',
    severity: 'warning',
    summary: 'Credential releases refused ({{ $labels.mode }} mode)',
    description: '{{ $value | humanize }} credential releases were refused in the last 15 minutes in {{ $labels.mode }} mode.',
  },
  {
    alert: 'CollateralExpiringSoon',
    expr: `min by (fmspc, kind) (${M.collateralNextUpdate}) - time() < ${7 * DAY}`,
    for: '1h',
    severity: 'warning',
    summary: 'TDX collateral {{ $labels.kind }} for FMSPC {{ $labels.fmspc }} expires within 7 days',
    description: 'The {{ $labels.kind }} in use for FMSPC {{ $labels.fmspc }} reaches its nextUpdate in {{ $value | humanizeDuration }} and the PCCS has not served a newer one.',
  },
  {
    alert: 'CollateralExpired',
    expr: `min by (fmspc, kind) (${M.collateralNextUpdate}) - time() < 0`,
    for: '0m',
    severity: 'critical',
    summary: 'TDX collateral {{ $labels.kind }} for FMSPC {{ $labels.fmspc }} has expired',
    description: 'Quotes from platforms with FMSPC {{ $labels.fmspc }} can no longer be verified; every re-attestation of those agents fails.',
  },
  {
    alert: 'PccsUnreachableServingStale',
    // Per verifier host: the operator (challenge mode) and the KBS (KBS mode) each keep their own collateral cache.
    expr: `max by (host) (${M.collateralServingStale}) == 1`,
    for: '30m',
    severity: 'warning',
    summary: 'PCCS unreachable: the {{ $labels.host }} serves cached TDX collateral',
    description: `The {{ $labels.host }}'s last successful PCCS fetch was {{ with printf "time() - max(${M.pccsLastSuccess}{host='%s'})" $labels.host | query }}{{ . | first | value | humanizeDuration }}{{ end }} ago. Cached collateral is valid until its nextUpdate.`,
  },
  {
    alert: 'TransparencyLogInconsistent',
    expr: `max by (namespace, name) (${M.logInconsistent}) == 1`,
    for: '0m',
    severity: 'critical',
    summary: 'Transparency log of AttestationPolicy {{ $labels.namespace }}/{{ $labels.name }} failed a consistency proof',
    description: 'The log served a checkpoint that does not extend the one the policy verified before: a fork or a rewritten log. Reference values are frozen until a human investigates.',
  },
  {
    alert: 'RimCertExpiringSoon',
    // OCSP answers live days by design (kind=ocsp); only the RIM signing chain is a certificate to renew.
    expr: `min by (kind) (${M.rimCertExpiry}{kind="rim_signing"}) - time() < ${14 * DAY}`,
    for: '1h',
    severity: 'warning',
    summary: 'NVIDIA RIM signing certificate expires within 14 days',
    description: 'The signing chain of a RIM the GPU verifier relies on expires in {{ $value | humanizeDuration }}; after that, GPUs whose RIMs it signed stop attesting.',
  },
  {
    alert: 'SealingKeyOld',
    expr: `time() - max(${M.sealingKeyCreated}) > ${90 * DAY}`,
    for: '0m',
    severity: 'info',
    summary: 'The current sealing key is older than 90 days',
    description: 'Rotate it with `cai sealing-key rotate`; credentials sealed to the old key keep opening until it is retired.',
  },
  {
    alert: 'AttestationServiceSaturated',
    expr: `sum by (code) (increase(${M.asRefusals}{code=~"Busy|RateLimited"}[10m])) > 0`,
    for: '10m',
    severity: 'warning',
    summary: 'The attestation service turns TNG gateways away ({{ $labels.code }})',
    description: '{{ $value | humanize }} attestation-service requests were refused with {{ $labels.code }} in the last 10 minutes: gateways cannot verify instances and clients cannot connect. Busy: raise the verification limit or add replicas; RateLimited: one client exceeds 50 requests/s.',
  },
  {
    alert: 'CloudApiThrottled',
    expr: `sum by (provider, action) (rate(${M.cloudThrottles}[10m])) > 0.05`,
    for: '15m',
    severity: 'warning',
    summary: '{{ $labels.provider }} throttles {{ $labels.action }}',
    description: 'The cloud API refused {{ $value | humanize }} {{ $labels.action }} requests per second for throttling over 15 minutes; provisioning slows down.',
  },
  {
    alert: 'OperatorDown',
    expr: 'absent(controller_runtime_reconcile_total{controller="confidentialagent"})',
    for: '5m',
    severity: 'critical',
    summary: 'No confidential-agent operator is being scraped',
    description: 'Prometheus has scraped no operator replica for 5 minutes: nothing provisions, attests or re-attests agents.',
  },
  {
    alert: 'NoLeader',
    expr: 'max(leader_election_master_status) < 1',
    for: '5m',
    severity: 'critical',
    summary: 'No operator replica holds the leader Lease',
    description: 'Replicas run but none leads: reconciles are stopped. Check the Lease in the operator namespace and the replicas\' logs.',
  },
  {
    alert: 'ReconcileErrorsHigh',
    expr: 'sum by (controller) (rate(controller_runtime_reconcile_errors_total[5m])) / sum by (controller) (rate(controller_runtime_reconcile_total[5m])) > 0.1',
    for: '15m',
    severity: 'warning',
    summary: 'More than 10% of {{ $labels.controller }} reconciles fail',
    description: '{{ $value | humanizePercentage }} of reconciles of {{ $labels.controller }} return errors.',
  },
  {
    alert: 'WorkqueueBacklog',
    expr: 'max by (name) (workqueue_depth) > 100',
    for: '15m',
    severity: 'warning',
    summary: 'Work queue {{ $labels.name }} holds more than 100 items',
    description: 'The {{ $labels.name }} queue has been above 100 items for 15 minutes ({{ $value }} now): the operator is not keeping up.',
  },
];

export interface RuleGroupOptions {
  /** Where runbook anchors live, e.g. https://…/docs/runbooks.md (default: the repository-relative path). */
  runbookBaseUrl?: string;
  /** Overrides every rule's `for` (the end-to-end test uses 0s so an alert fires within a scrape). */
  forOverride?: string;
}

/** The Prometheus rule group (the shape of both a rules file and a PrometheusRule's spec). */
export function ruleGroups(opts: RuleGroupOptions = {}) {
  const base = opts.runbookBaseUrl ?? 'docs/runbooks.md';
  return {
    groups: [
      {
        name: 'confidential-agent-operator',
        rules: ALERTS.map((a) => ({
          alert: a.alert,
          expr: a.expr,
          for: opts.forOverride ?? a.for,
          labels: { severity: a.severity },
          annotations: { summary: a.summary, description: a.description, runbook_url: `${base}#${a.alert.toLowerCase()}` },
        })),
      },
    ],
  };
}
