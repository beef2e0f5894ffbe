// The Grafana dashboard, as code (grafana-foundation-sdk builders): rendered to
// monitoring/dashboards/confidential-agent-operator.json and shipped by the chart as a ConfigMap with the
// `grafana_dashboard` label. Every query is checked by promtool and against the metric names in names.ts.
import { DashboardBuilder, DashboardCursorSync, RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { METRIC as M } from './names.ts';

interface Query {
  expr: string;
  legend?: string;
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const target = (q: Query, instant = false) => {
  const b = new DataqueryBuilder().expr(q.expr).datasource(DATASOURCE);
  if (q.legend) b.legendFormat(q.legend);
  if (instant) b.instant().format(PromQueryFormat.Table);
  return b;
};
const timeseries = (title: string, unit: string, queries: Query[], w = 12) => {
  const p = new TimeseriesPanel().title(title).unit(unit).datasource(DATASOURCE).height(8).span(w);
  for (const q of queries) p.withTarget(target(q));
  return p;
};
const stat = (title: string, unit: string, q: Query) => new StatPanel().title(title).unit(unit).datasource(DATASOURCE).height(4).span(6).withTarget(target(q));
const table = (title: string, unit: string, q: Query) => new TablePanel().title(title).unit(unit).datasource(DATASOURCE).height(8).span(12).withTarget(target(q, true));

export function buildDashboard(): Dashboard {
  return new DashboardBuilder('Confidential Agent Operator')
    .uid('confidential-agent-operator')
    .tags(['confidential-computing', 'kubernetes', 'tdx'])
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .tooltip(DashboardCursorSync.Crosshair)
    .withRow(new RowBuilder('Fleet'))
    .withPanel(stat('Agents', 'short', { expr: `count(${M.agentCondition}{condition="Ready"})` }))
    .withPanel(stat('Ready ratio', 'percentunit', { expr: `sum(${M.agentCondition}{condition="Ready",status="True"}) / count(${M.agentCondition}{condition="Ready"})` }))
    .withPanel(stat('Time to Ready (p90, 24h)', 's', { expr: `histogram_quantile(0.9, sum by (le) (increase(${M.agentTimeToReady}_bucket[24h])))` }))
    .withPanel(stat('Attestations failing now', 'short', { expr: `sum(${M.agentCondition}{condition="Attested",status="False"})` }))
    .withPanel(timeseries('Agents by Ready reason', 'short', [{ expr: `sum by (status, reason) (${M.agentCondition}{condition="Ready"})`, legend: '{{status}} {{reason}}' }]))
    .withPanel(timeseries('Instances by provider and state', 'short', [{ expr: `sum by (provider, state) (${M.instances})`, legend: '{{provider}} {{state}}' }]))
    .withRow(new RowBuilder('Attestation'))
    .withPanel(timeseries('Attestations by TEE and result', 'ops', [{ expr: `sum by (tee, result) (rate(${M.attestations}[5m]))`, legend: '{{tee}} {{result}}' }]))
    .withPanel(timeseries('Failures by reason', 'ops', [{ expr: `sum by (reason) (rate(${M.attestationFailures}[5m]))`, legend: '{{reason}}' }]))
    .withPanel(timeseries('Verification latency', 's', [
      { expr: `histogram_quantile(0.5, sum by (le, verifier) (rate(${M.verificationDuration}_bucket[5m])))`, legend: 'p50 {{verifier}}' },
      { expr: `histogram_quantile(0.99, sum by (le, verifier) (rate(${M.verificationDuration}_bucket[5m])))`, legend: 'p99 {{verifier}}' },
    ]))
    .withPanel(timeseries('EAR status of last appraisals', 'short', [{ expr: `sum by (status) (${M.agentAttestationStatus})`, legend: '{{status}}' }]))
    .withRow(new RowBuilder('Releases and KBS'))
    .withPanel(timeseries('Credential releases', 'ops', [{ expr: `sum by (mode, result) (rate(${M.releases}[5m]))`, legend: '{{mode}} {{result}}' }], 8))
    .withPanel(timeseries('KBS requests', 'reqps', [{ expr: `sum by (endpoint, code) (rate(${M.kbsRequests}[5m]))`, legend: '{{endpoint}} {{code}}' }], 8))
    .withPanel(timeseries('KBS sessions', 'short', [{ expr: `sum(${M.kbsSessions})`, legend: 'sessions' }], 8))
    .withPanel(timeseries('Attestation service: tokens by status, refusals by code', 'reqps', [{ expr: `sum by (status) (rate(${M.asTokens}[5m]))`, legend: 'token {{status}}' }, { expr: `sum by (code) (rate(${M.asRefusals}[5m])) > 0`, legend: 'refused {{code}}' }], 8))
    .withRow(new RowBuilder('Trust material'))
    .withPanel(table('TDX collateral: time to nextUpdate', 's', { expr: `min by (fmspc, kind) (${M.collateralNextUpdate}) - time()` }))
    .withPanel(table('NVIDIA certificates: time to expiry', 's', { expr: `min by (kind) (${M.rimCertExpiry}) - time()` }))
    .withPanel(stat('Since last PCCS success', 's', { expr: `time() - max(${M.pccsLastSuccess})` }))
    .withPanel(stat('Serving stale collateral', 'bool', { expr: `max(${M.collateralServingStale})` }))
    .withPanel(stat('Inconsistent transparency logs', 'short', { expr: `sum(${M.logInconsistent})` }))
    .withPanel(stat('Sealing key age', 's', { expr: `time() - max(${M.sealingKeyCreated})` }))
    .withRow(new RowBuilder('Cloud API'))
    .withPanel(timeseries('Requests by action and code', 'reqps', [{ expr: `sum by (action, code) (rate(${M.cloudRequests}[5m]))`, legend: '{{action}} {{code}}' }], 8))
    .withPanel(timeseries('Throttled', 'reqps', [{ expr: `sum by (action) (rate(${M.cloudThrottles}[5m]))`, legend: '{{action}}' }], 8))
    .withPanel(timeseries('Token-bucket wait (p99)', 's', [{ expr: `histogram_quantile(0.99, sum by (le) (rate(${M.cloudRateLimitWait}_bucket[5m])))`, legend: 'p99' }], 8))
    .withRow(new RowBuilder('Controller health'))
    .withPanel(timeseries('Reconciles by result', 'ops', [{ expr: 'sum by (controller, result) (rate(controller_runtime_reconcile_total[5m]))', legend: '{{controller}} {{result}}' }], 8))
    .withPanel(timeseries('Work queue depth', 'short', [{ expr: 'sum by (name) (workqueue_depth)', legend: '{{name}}' }], 8))
    .withPanel(timeseries('Leader', 'short', [{ expr: 'max(leader_election_master_status)', legend: 'leader' }], 8))
    .build();
}

/** Every PromQL expression the dashboard runs (for promtool and the metric-name check). */
export function dashboardExpressions(d: Dashboard = buildDashboard()): string[] {
  const out: string[] = [];
  for (const p of d.panels ?? []) {
    for (const t of ('targets' in p ? (p.targets ?? []) : []) as Array<{ expr?: string }>) if (t.expr) out.push(t.expr);
  }
  return out;
}
