// Requests the kube-apiserver itself counted (its apiserver_request_total series), so a test can show
// what a reconcile sent without instrumenting the client.
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface RequestFilter {
  verb: string;
  resource: string;
  subresource?: string;
}

/** Sum of apiserver_request_total over every series matching verb, resource and (if given) subresource. */
export async function apiServerRequests(kc: KubeConfig, f: RequestFilter): Promise<number> {
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
    .filter((l) => label(l, 'verb') === f.verb && label(l, 'resource') === f.resource && (f.subresource === undefined || label(l, 'subresource') === f.subresource))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}
