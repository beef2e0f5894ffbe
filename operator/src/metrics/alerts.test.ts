import { readFileSync } from 'node:fs';
import * as prom from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RuntimeMetrics } from '../runtime/metrics.ts';
import { ALERTS, ruleGroups } from './alerts.ts';
import { DomainMetrics } from './domain.ts';
import { renderRulesFile, CHART_RULES_FILE, RULES_FILE } from './generate-monitoring.ts';
import { METRIC } from './names.ts';

const METRIC_TOKEN = /\b(?:confidential_agent|controller_runtime|workqueue|leader_election)_[a-z0-9_]+/g;

function exposedFamilies(): Set<string> {
  const registry = new prom.Registry();
  new RuntimeMetrics(registry);
  new DomainMetrics(registry);
  const names = new Set<string>(Object.values(METRIC)); // state gauges register against informers; names.ts lists them
  for (const m of registry.getMetricsAsArray()) names.add(m.name);
  return names;
}

describe('alert rules', () => {
  it('docs/runbooks.md has a section per alert and lists every domain metric in its reference table', () => {
    const doc = readFileSync(new URL('../../../docs/runbooks.md', import.meta.url), 'utf8');
    for (const a of ALERTS) expect(doc, a.alert).toContain(`\n## ${a.alert}\n`);
    for (const m of Object.values(METRIC)) expect(doc, m).toContain(`| \`${m}\``);
  });

  it('monitoring/prometheus-rules.yaml is generated from alerts.ts (run `npm run monitoring`)', () => {
    expect(readFileSync(RULES_FILE, 'utf8')).toBe(renderRulesFile());
    expect(readFileSync(CHART_RULES_FILE, 'utf8'), 'the chart copy (npm run monitoring)').toBe(renderRulesFile());
  });

  it('every alert the issue asks for exists, once, with a runbook section', () => {
    const runbooks = readFileSync(new URL('../../../docs/runbooks.md', import.meta.url), 'utf8');
    const names = ALERTS.map((a) => a.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const required of ['AgentNotReady', 'AttestationFailing', 'ReleaseRefused', 'CollateralExpiringSoon', 'CollateralExpired', 'PccsUnreachableServingStale', 'TransparencyLogInconsistent', 'RimCertExpiringSoon', 'SealingKeyOld', 'CloudApiThrottled', 'OperatorDown', 'NoLeader', 'ReconcileErrorsHigh', 'WorkqueueBacklog']) {
      expect(names).toContain(required);
    }
    for (const name of names) expect(runbooks, `docs/runbooks.md has no "## ${name}"`).toContain(`\n## ${name}\n`);
  });

  it('references only metric families the operator registers', () => {
    const exposed = exposedFamilies();
    const base = (n: string) => n.replace(/_(bucket|sum|count)$/, '');
    for (const a of ALERTS) {
      for (const token of `${a.expr} ${a.description}`.match(METRIC_TOKEN) ?? []) {
        expect(exposed.has(token) || exposed.has(base(token)), `${a.alert} references ${token}`).toBe(true);
      }
    }
  });

  it('carries summary, description, severity and a runbook anchor; overrides apply', () => {
    const groups = ruleGroups({ runbookBaseUrl: 'https://example.test/runbooks.md', forOverride: '0s' });
    for (const r of groups.groups[0]!.rules) {
      expect(r.annotations.summary.length).toBeGreaterThan(10);
      expect(r.annotations.description.length).toBeGreaterThan(20);
      expect(r.annotations.runbook_url).toBe(`https://example.test/runbooks.md#${r.alert.toLowerCase()}`);
      expect(['info', 'warning', 'critical']).toContain(r.labels.severity);
      expect(r.for).toBe('0s');
    }
  });
});
