// The chart's monitoring toggles, rendered by the pinned helm CLI: ServiceMonitor, PrometheusRule and the
// Grafana dashboard ConfigMap, each off by default; the rules and dashboard are exactly monitoring/'s (one
// source, byte-copied into the chart by `npm run monitoring`); lint passes; typos and impossible combinations
// fail with the field named. The Prometheus Operator CRDs are not in the test cluster, so the server-side dry
// run covers what it can accept: every other rendered object, the dashboard ConfigMap included.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { useControlPlane } from '../envtest/index.ts';
import { ALERTS } from '../../src/metrics/alerts.ts';
import { CHART_DIR, helm, ofKind, OPTION_SETS, render, renderRaw } from '../support/chart.ts';
import { REPO_ROOT } from '../support/operator.ts';

const controlPlane = useControlPlane();
const NS = 'confidential-agent-system';
const ALL_ON = ['monitoring.serviceMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true', 'monitoring.dashboards.enabled=true'];

interface Labeled extends KubernetesObject {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}
interface ServiceMonitor extends Labeled {
  spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: Array<{ port: string; path: string; interval: string; scrapeTimeout: string }> };
}
interface Service extends Labeled {
  spec: { ports: Array<{ name: string }> };
}
interface Rules {
  groups: Array<{ name: string; rules: Array<{ alert: string; annotations: { runbook_url: string } }> }>;
}
interface PrometheusRule extends Labeled {
  spec: Rules;
}
interface KbsDeployment extends Labeled {
  spec: { template: { spec: { containers: Array<{ args: string[]; ports: Array<{ name: string; containerPort: number }> }> } } };
}
interface ConfigMap extends Labeled {
  data: Record<string, string>;
}

const monitoringFile = (p: string) => readFileSync(join(REPO_ROOT, 'monitoring', p), 'utf8');

describe('Helm chart: monitoring', () => {
  it('renders none of the three by default', () => {
    const kinds = render().map((o) => o.kind);
    expect(kinds).not.toContain('ServiceMonitor');
    expect(kinds).not.toContain('PrometheusRule');
    expect(ofKind<ConfigMap>(render(), 'ConfigMap').filter((c) => c.metadata.labels?.['grafana_dashboard'])).toEqual([]);
  });

  it('the chart copies of the rules and the dashboard are byte copies of monitoring/ (npm run monitoring)', () => {
    expect(readFileSync(join(CHART_DIR, 'files', 'monitoring', 'prometheus-rules.yaml'), 'utf8')).toBe(monitoringFile('prometheus-rules.yaml'));
    expect(readFileSync(join(CHART_DIR, 'files', 'monitoring', 'confidential-agent-operator.json'), 'utf8')).toBe(monitoringFile('dashboards/confidential-agent-operator.json'));
  });

  it('ServiceMonitor selects the metrics Service and its port; extra labels and intervals apply', () => {
    const objs = render({ set: [...ALL_ON, 'monitoring.serviceMonitor.labels.release=kube-prometheus-stack', 'monitoring.serviceMonitor.interval=15s'] });
    const [sm] = ofKind<ServiceMonitor>(objs, 'ServiceMonitor');
    const svc = ofKind<Service>(objs, 'Service').find((s) => s.metadata.name.endsWith('-metrics'))!;
    expect(sm?.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm?.metadata.labels?.['release']).toBe('kube-prometheus-stack');
    for (const [k, v] of Object.entries(sm!.spec.selector.matchLabels)) expect(svc.metadata.labels?.[k], k).toBe(v);
    // It selects the metrics Services by their scrape label, never the guest-facing KBS Service.
    expect(sm!.spec.selector.matchLabels['confidential-agent.io/scrape']).toBe('true');
    expect(sm!.spec.namespaceSelector.matchNames).toEqual([NS]);
    expect(sm!.spec.endpoints).toEqual([{ port: svc.spec.ports[0]!.name, path: '/metrics', interval: '15s', scrapeTimeout: '10s' }]);
  });

  it('with a standalone KBS, its processes are scraped too (metrics port, -kbs-metrics Service), the guest-facing KBS Service is not', () => {
    const objs = render({ set: [...ALL_ON, ...OPTION_SETS['kbs standalone']!] });
    const [sm] = ofKind<ServiceMonitor>(objs, 'ServiceMonitor');
    const selects = (s: Service) => Object.entries(sm!.spec.selector.matchLabels).every(([k, v]) => s.metadata.labels?.[k] === v);
    const selected = ofKind<Service>(objs, 'Service').filter(selects).map((s) => s.metadata.name.replace(/^.*?-(metrics|kbs-metrics)$/, '$1')).sort();
    expect(selected).toEqual(['kbs-metrics', 'metrics']);
    const kbsMetrics = ofKind<Service & { spec: { selector: Record<string, string> } }>(objs, 'Service').find((s) => s.metadata.name.endsWith('-kbs-metrics'))!;
    expect(kbsMetrics.spec.selector['app.kubernetes.io/component']).toBe('kbs');
    const kbs = ofKind<KbsDeployment>(objs, 'Deployment').find((d) => d.metadata.name.endsWith('-kbs'))!;
    const c = kbs.spec.template.spec.containers[0]!;
    expect(c.ports).toContainEqual(expect.objectContaining({ name: 'metrics', containerPort: 8080 }));
    expect(c.args).toContain('--http-port=8080');
    // Without the standalone KBS there is no second metrics Service.
    expect(ofKind<Service>(render({ set: ALL_ON }), 'Service').filter((s) => s.metadata.name.endsWith('-kbs-metrics'))).toEqual([]);
  });

  it('PrometheusRule carries exactly monitoring/prometheus-rules.yaml; runbookBaseUrl rewrites only the runbook links', () => {
    const source = parse(monitoringFile('prometheus-rules.yaml')) as Rules;
    const [rule] = ofKind<PrometheusRule>(render({ set: [...ALL_ON, 'monitoring.prometheusRule.labels.release=kube-prometheus-stack'] }), 'PrometheusRule');
    expect(rule?.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule?.metadata.labels?.['release']).toBe('kube-prometheus-stack');
    expect(rule?.spec).toEqual(source);
    expect(source.groups[0]!.rules.length).toBe(ALERTS.length);

    const base = 'https://github.com/example/confidential-agent-operator/blob/v0.1.0/docs/runbooks.md';
    const [linked] = ofKind<PrometheusRule>(render({ set: [...ALL_ON, `monitoring.prometheusRule.runbookBaseUrl=${base}`] }), 'PrometheusRule');
    const expected = structuredClone(source);
    for (const r of expected.groups[0]!.rules) r.annotations.runbook_url = r.annotations.runbook_url.replace('docs/runbooks.md', base);
    expect(linked?.spec).toEqual(expected);
    expect(linked?.spec.groups[0]!.rules.every((r) => r.annotations.runbook_url.startsWith(`${base}#`))).toBe(true);
  });

  it('the dashboard ConfigMap has grafana_dashboard: "1" and the generated JSON, in the chosen namespace', () => {
    const objs = render({ set: [...ALL_ON, 'monitoring.dashboards.namespace=monitoring', 'monitoring.dashboards.annotations.grafana_folder=Security'] });
    const [cm] = ofKind<ConfigMap>(objs, 'ConfigMap').filter((c) => c.metadata.labels?.['grafana_dashboard'] === '1');
    expect(cm?.metadata.namespace).toBe('monitoring');
    expect(cm?.metadata.annotations).toEqual({ grafana_folder: 'Security' });
    expect(Object.keys(cm!.data)).toEqual(['confidential-agent-operator.json']);
    expect(JSON.parse(cm!.data['confidential-agent-operator.json']!)).toEqual(JSON.parse(monitoringFile('dashboards/confidential-agent-operator.json')));
  });

  it('helm lint --strict passes with everything on', () => {
    const r = helm(['lint', '--strict', CHART_DIR, ...ALL_ON.flatMap((s) => ['--set', s])]);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it('a typo, a bad interval or a ServiceMonitor without the metrics Service fails, naming the field', () => {
    const typo = renderRaw({ set: ['monitoring.serviceMonitor.enable=true'] });
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toMatch(/'\/monitoring\/serviceMonitor'.*'enable'/);
    const interval = renderRaw({ set: ['monitoring.serviceMonitor.interval=soon'] });
    expect(interval.code).not.toBe(0);
    expect(interval.stderr).toMatch(/'\/monitoring\/serviceMonitor\/interval'/);
    const noService = renderRaw({ set: ['monitoring.serviceMonitor.enabled=true', 'metrics.service.enabled=false'] });
    expect(noService.code).not.toBe(0);
    expect(noService.stderr).toContain('monitoring.serviceMonitor.enabled needs metrics.service.enabled');
  });

  it('the API server accepts every rendered object it has a schema for (server-side dry run), the dashboard ConfigMap included', async () => {
    const kc = controlPlane().kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    for (const name of [NS, 'monitoring']) await core.createNamespace({ body: { metadata: { name } } }).catch((e: { code?: number }) => (e.code === 409 ? undefined : Promise.reject(e)));
    const objs = render({ set: [...ALL_ON, 'monitoring.dashboards.namespace=monitoring'] });
    const accepted = objs.filter((o) => !o.apiVersion?.startsWith('monitoring.coreos.com/'));
    expect(objs.length - accepted.length).toBe(2);
    expect(accepted.some((o) => o.kind === 'ConfigMap' && (o as Labeled).metadata.labels?.['grafana_dashboard'] === '1')).toBe(true);
    const kubectl = controlPlane().assets.kubectl;
    if (!kubectl) throw new Error('kubectl missing from KUBEBUILDER_ASSETS: run `make envtest`');
    const apply = (text: string) =>
      spawnSync(kubectl, ['apply', '--server-side', '--dry-run=server', '--validate=strict', '--field-manager=chart-test', '--kubeconfig', controlPlane().kubeconfigPath, '-f', '-'], { input: text, encoding: 'utf8' });
    const r = apply(accepted.map((o) => stringify(o)).join('---\n'));
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    // The kinds it has no CRD for are refused (which is why they are left out above, not silently passed).
    const monitoring = apply(stringify(objs.find((o) => o.kind === 'PrometheusRule')));
    expect(monitoring.status).not.toBe(0);
    expect(`${monitoring.stdout}${monitoring.stderr}`).toMatch(/PrometheusRule|monitoring\.coreos\.com/);
  });
});
