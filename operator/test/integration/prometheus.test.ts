// The alerts in a real Prometheus server (hack/prometheus/build.sh), against the real API server: Prometheus
// scrapes the operator over loopback every second and evaluates the shipped rules (rendered from the same
// alert data, only `for` shortened to 0s); an attestation failure is induced and /api/v1/alerts shows
// AttestationFailing firing with the reason label. And every metric name a rule or a dashboard query selects
// (Prometheus's own parser, /api/v1/parse_query) is one the live operator exposes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { ALERTS, ruleGroups } from '../../src/metrics/alerts.ts';
import { dashboardExpressions } from '../../src/metrics/dashboard.ts';
import { METRIC } from '../../src/metrics/names.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { workloadGuestLauncher } from '../../src/sim/local/guest-launcher.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { conditionOf, createCustom, getAgent, localAgent, startTestOperator } from '../support/operator.ts';
import { scrape } from '../support/prom-text.ts';
import { selectedMetricNames, startPrometheus, type PrometheusServer } from '../support/prometheus.ts';

const controlPlane = useControlPlane();

interface Alert {
  labels: Record<string, string>;
  state: string;
}

/** Names a scrape exposes: every family (histograms with their _bucket/_sum/_count) and every sample name. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m[1]}${s}`);
  }
  for (const m of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)) names.add(m[1]!);
  return names;
}

describe('alerts in a real Prometheus', () => {
  let cloud: LocalCloud;
  let operator: OperatorHandle;
  let prom: PrometheusServer;
  let ns: string;

  beforeAll(async () => {
    cloud = await startLocalCloud({ launchGuest: workloadGuestLauncher(), pendingMs: 5 });
    const kc = controlPlane().kubeConfig();
    operator = await startTestOperator(kc, ['--local-cloud-url', cloud.url, '--gc-interval', '3600']);
    const { host, port } = await operator.manager.httpAddress;
    prom = await startPrometheus({ targets: [`${host}:${port}`], rules: ruleGroups({ forOverride: '0s' }) });
    ns = await createNamespace(kc, 'prom');
    // A policy that asks more than the sample TEE can give: every attestation of a local (sample) guest is refused.
    await createCustom(kc, 'attestationpolicies', ns, { apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name: 'strict' }, spec: { allowSampleTee: true, minimumStatus: 'affirming' } });
  }, 60_000);
  afterAll(async () => {
    await prom?.stop();
    await operator?.stop();
    await cloud?.close();
  });

  it('fires AttestationFailing with the reason label after an attestation is refused', async () => {
    const kc = controlPlane().kubeConfig();
    await waitFor('Prometheus scrapes the operator', async () => {
      const r = await prom.api<{ result: Array<{ value: [number, string] }> }>('query', { query: 'up{job="confidential-agent-operator"}' });
      return r.result[0]?.value[1] === '1' ? true : undefined;
    }, { timeoutMs: 20_000 });

    // The first refusal creates the series (at 1); Prometheus must see it before the second one raises it,
    // so `increase` has two samples to compare.
    const refused = async (name: string) => {
      await createCustom(kc, 'confidentialagents', ns, localAgent(name, 'strict'));
      await waitFor(`${name} refused`, async () => (conditionOf(await getAgent(kc, ns, name), 'Attested')?.reason === 'AppraisalBelowMinimum' ? true : undefined), { timeoutMs: 30_000 });
    };
    await refused('first');
    await waitFor('Prometheus has the failure series', async () => {
      const r = await prom.api<{ result: unknown[] }>('query', { query: `${METRIC.attestationFailures}{reason="AppraisalBelowMinimum"}` });
      return r.result.length > 0 ? true : undefined;
    }, { timeoutMs: 20_000 });
    await refused('second');

    const firing = await waitFor('AttestationFailing firing', async () => {
      const { alerts } = await prom.api<{ alerts: Alert[] }>('alerts');
      return alerts.find((a) => a.labels.alertname === 'AttestationFailing' && a.state === 'firing');
    }, { timeoutMs: 30_000, intervalMs: 500 });
    expect(firing.labels).toMatchObject({ alertname: 'AttestationFailing', reason: 'AppraisalBelowMinimum', tee: 'sample', severity: 'warning' });
    // The refused agents are not Ready: AgentNotReady (for 0s here) names them with their reason.
    const notReady = await waitFor('AgentNotReady firing', async () => {
      const { alerts } = await prom.api<{ alerts: Alert[] }>('alerts');
      const mine = alerts.filter((a) => a.labels.alertname === 'AgentNotReady' && a.labels.namespace === ns && a.state === 'firing');
      return mine.length === 2 ? mine : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    expect(notReady.map((a) => a.labels.name).sort()).toEqual(['first', 'second']);
  }, 120_000);

  it('every metric a rule, an alert annotation or a dashboard query selects is exposed by the live operator', async () => {
    const exposed = exposedNames(await scrape(operator));
    // `query "…"` and `printf "…" … | query` templates (a %s placeholder filled with a label value).
    const annotationQueries = ALERTS.flatMap((a) => [...a.description.matchAll(/(?:query|printf) "([^"]+)"/g)].map((m) => m[1]!.replaceAll('%s', 'x')));
    const expressions = [...ALERTS.map((a) => a.expr), ...annotationQueries, ...dashboardExpressions()];
    expect(annotationQueries.length).toBeGreaterThan(0);
    const missing: string[] = [];
    let selected = 0;
    for (const expr of expressions) {
      const names = await selectedMetricNames(prom, expr);
      expect(names.length, expr).toBeGreaterThan(0);
      selected += names.length;
      for (const n of names) if (!exposed.has(n)) missing.push(`${n} (in ${expr})`);
    }
    expect(missing).toEqual([]);
    expect(selected).toBeGreaterThanOrEqual(expressions.length);
    // The check can fail: a misspelt name is reported.
    const typo = await selectedMetricNames(prom, `sum(rate(${METRIC.attestationFailures.replace('failures', 'failure')}[5m]))`);
    expect(typo.filter((n) => !exposed.has(n))).toHaveLength(1);
  });
});
