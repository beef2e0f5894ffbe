// Writes the generated monitoring artefacts (`npm run monitoring`): the Prometheus rules file and the Grafana
// dashboard JSON, in monitoring/ and as the chart's copies. Tests fail when any drifts from its source
// (alerts.ts, dashboard.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ruleGroups } from './alerts.ts';
import { buildDashboard } from './dashboard.ts';

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
export const RULES_FILE = root('monitoring/prometheus-rules.yaml');
export const DASHBOARD_FILE = root('monitoring/dashboards/confidential-agent-operator.json');
// The chart reads byte copies (Helm reads only files inside the chart); a test keeps them equal.
export const CHART_RULES_FILE = root('charts/confidential-agent-operator/files/monitoring/prometheus-rules.yaml');
export const CHART_DASHBOARD_FILE = root('charts/confidential-agent-operator/files/monitoring/confidential-agent-operator.json');

export function renderRulesFile(): string {
  return '# Generated from operator/src/metrics/alerts.ts by `npm run monitoring`; do not edit.\n' + stringify(ruleGroups(), { lineWidth: 0 });
}
export function renderDashboard(): string {
  return JSON.stringify(buildDashboard(), null, 2) + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rules = renderRulesFile();
  const dashboard = renderDashboard();
  for (const [file, text] of [[RULES_FILE, rules], [DASHBOARD_FILE, dashboard], [CHART_RULES_FILE, rules], [CHART_DASHBOARD_FILE, dashboard]] as const) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    console.log(`wrote ${file}`);
  }
}
