// Writes the generated monitoring artefacts (`npm run monitoring`): the Prometheus rules file and the Grafana
// dashboard JSON. Tests fail when either drifts from its source (alerts.ts, dashboard.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ruleGroups } from './alerts.ts';
import { buildDashboard } from './dashboard.ts';

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
export const RULES_FILE = root('monitoring/prometheus-rules.yaml');
export const DASHBOARD_FILE = root('monitoring/dashboards/confidential-agent-operator.json');

export function renderRulesFile(): string {
  return '# Generated from operator/src/metrics/alerts.ts by `npm run monitoring`; do not edit.\n' + stringify(ruleGroups(), { lineWidth: 0 });
}
export function renderDashboard(): string {
  return JSON.stringify(buildDashboard(), null, 2) + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [file, text] of [[RULES_FILE, renderRulesFile()], [DASHBOARD_FILE, renderDashboard()]] as const) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    console.log(`wrote ${file}`);
  }
}
