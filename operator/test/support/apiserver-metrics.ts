// Requests the kube-apiserver itself counted (its apiserver_request_total series), so a test or a bench can
// show what a reconcile sent without instrumenting the client.
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface RequestFilter {
  verb: string;
  resource: string;
  subresource?: string;
}

interface RequestSeries {
  verb: string;
  resource: string;
  subresource: string;
  code: string;
  value: number;
}

/** Every apiserver_request_total series the API server exposes now, with its labels. */
async function requestSeries(kc: KubeConfig): Promise<RequestSeries[]> {
  const server = kc.getCurrentCluster()?.server ?? '';
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get(`${server}/metrics`, opts, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics answered ${res.statusCode}`))));
      })
      .on('error', reject);
  });
  const label = (line: string, name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? '';
  return text
    .split('\n')
    .filter((l) => l.startsWith('apiserver_request_total{'))
    .map((l) => ({ verb: label(l, 'verb'), resource: label(l, 'resource'), subresource: label(l, 'subresource'), code: label(l, 'code'), value: Number(l.split(' ').pop()) }));
}

/** Sum of apiserver_request_total over every series matching verb, resource and (if given) subresource. */
export async function apiServerRequests(kc: KubeConfig, f: RequestFilter): Promise<number> {
  return (await requestSeries(kc))
    .filter((s) => s.verb === f.verb && s.resource === f.resource && (f.subresource === undefined || s.subresource === f.subresource))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Requests served so far, by "VERB resource[/subresource] code". */
export async function apiServerRequestCounts(kc: KubeConfig): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const s of await requestSeries(kc)) {
    const key = `${s.verb} ${s.resource}${s.subresource ? `/${s.subresource}` : ''} ${s.code}`;
    counts.set(key, (counts.get(key) ?? 0) + s.value);
  }
  return counts;
}
