// The alert rules and the dashboard's queries, checked by the real Prometheus parser (promtool, built from
// the Go module proxy by hack/prometheus/build.sh): every rule parses, every alert has its unit test
// (monitoring/tests/alerts.test.yaml) and passes it, and every dashboard query parses as PromQL. That every
// metric they select is exposed by a live operator is checked in prometheus.test.ts (Prometheus's parser).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ALERTS } from '../../src/metrics/alerts.ts';
import { dashboardExpressions } from '../../src/metrics/dashboard.ts';
import { REPO_ROOT } from '../support/operator.ts';

const PROMTOOL = join(process.env['CAI_CACHE'] ?? join(process.env['HOME'] ?? '/root', '.cache', 'cai-operator'), 'prometheus', 'promtool');
const promtool = (args: string[], cwd = REPO_ROOT) => execFileSync(PROMTOOL, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('promtool', () => {
  it('checks the generated rules file', () => {
    expect(promtool(['check', 'rules', 'monitoring/prometheus-rules.yaml'])).toContain(`SUCCESS: ${ALERTS.length} rules found`);
  });

  it('passes the unit test of every alert', () => {
    const files = ['monitoring/tests/alerts.test.yaml', 'monitoring/tests/alerts-long.test.yaml'];
    const tests = files.map((f) => readFileSync(join(REPO_ROOT, f), 'utf8')).join('\n');
    for (const a of ALERTS) expect(tests, `monitoring/tests/ has no case for ${a.alert}`).toContain(`alertname: ${a.alert}\n`);
    const out = promtool(['test', 'rules', ...files]);
    expect(out.match(/SUCCESS/g)).toHaveLength(files.length);
  });

  it('parses every dashboard query, and refuses a broken one (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cai-promql-'));
    try {
      const asRules = (exprs: string[]) => stringify({ groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] });
      writeFileSync(join(dir, 'ok.yaml'), asRules(dashboardExpressions()));
      expect(promtool(['check', 'rules', join(dir, 'ok.yaml')])).toContain('SUCCESS');
      writeFileSync(join(dir, 'bad.yaml'), asRules(['sum by (x (rate(foo[5m]))']));
      expect(() => promtool(['check', 'rules', join(dir, 'bad.yaml')])).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
