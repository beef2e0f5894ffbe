// Writes monitoring/prometheus-rules.yaml from alerts.ts (`npm run rules`); a test fails when it drifts.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ruleGroups } from './alerts.ts';

export const RULES_FILE = fileURLToPath(new URL('../../../monitoring/prometheus-rules.yaml', import.meta.url));
export const RULES_HEADER = '# Generated from operator/src/metrics/alerts.ts by `npm run rules`; do not edit.\n';

export function renderRulesFile(): string {
  return RULES_HEADER + stringify(ruleGroups(), { lineWidth: 0 });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(RULES_FILE, renderRulesFile());
  console.log(`wrote ${RULES_FILE}`);
}
