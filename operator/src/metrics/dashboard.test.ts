import { readFileSync } from 'node:fs';
import * as prom from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RuntimeMetrics } from '../runtime/metrics.ts';
import { buildDashboard, dashboardExpressions } from './dashboard.ts';
import { DomainMetrics } from './domain.ts';
import { CHART_DASHBOARD_FILE, DASHBOARD_FILE, renderDashboard } from './generate-monitoring.ts';
import { METRIC } from './names.ts';

const METRIC_TOKEN = /\b(?:confidential_agent|controller_runtime|workqueue|leader_election)_[a-z0-9_]+/g;

describe('Grafana dashboard', () => {
  it('monitoring/dashboards/*.json is generated from dashboard.ts (run `npm run monitoring`)', () => {
    expect(readFileSync(DASHBOARD_FILE, 'utf8')).toBe(renderDashboard());
    expect(readFileSync(CHART_DASHBOARD_FILE, 'utf8'), 'the chart copy (npm run monitoring)').toBe(renderDashboard());
  });

  it('has the rows an on-call SRE looks for, each with panels', () => {
    const d = buildDashboard();
    const rows = (d.panels ?? []).filter((p) => p.type === 'row').map((p) => ('title' in p ? p.title : ''));
    expect(rows).toEqual(['Fleet', 'Attestation', 'Releases and KBS', 'Trust material', 'Cloud API', 'Controller health']);
    expect(dashboardExpressions(d).length).toBeGreaterThanOrEqual(25);
  });

  it('queries only metric families the operator registers', () => {
    const registry = new prom.Registry();
    new RuntimeMetrics(registry);
    new DomainMetrics(registry);
    const exposed = new Set<string>([...Object.values(METRIC), ...registry.getMetricsAsArray().map((m) => m.name)]);
    for (const expr of dashboardExpressions()) {
      for (const token of expr.match(METRIC_TOKEN) ?? []) {
        expect(exposed.has(token.replace(/_(bucket|sum|count)$/, '')), `${expr} references ${token}`).toBe(true);
      }
    }
  });
});
