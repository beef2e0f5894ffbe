// Shared setup for the Alibaba provider tests: a simulator, a fake AccessKey pair in the environment
// (the provider resolves it through the real @alicloud/credentials default chain), captured logs.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { AlibabaInstanceSchema, type AlibabaInstanceSpec } from '../../src/api/confidential-agent.ts';
import { createAlibabaProvider, type AlibabaProvider, type AlibabaProviderOptions } from '../../src/cloud/alibaba/index.ts';
import type { CreateInstanceRequest } from '../../src/cloud/provider.ts';

export const FAKE_AK_ID = 'LTAI5tFakeAccessKeyId0042';
export const FAKE_AK_SECRET = 'FakeSecretDoNotLog9f3c2a7e1b5d8c4a';

export function useFakeCredentials(): void {
  process.env.ALIBABA_CLOUD_ACCESS_KEY_ID = FAKE_AK_ID;
  process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = FAKE_AK_SECRET;
}

export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

export function spec(overrides: Partial<AlibabaInstanceSpec> = {}): AlibabaInstanceSpec {
  return AlibabaInstanceSchema.parse({ imageId: 'm-trusted0001', vSwitchId: 'vsw-test0001', securityGroupId: 'sg-test0001', ...overrides });
}

let seq = 0;
export function request(
  clusterId: string,
  s: AlibabaInstanceSpec = spec(),
  name = `agent-${++seq}`,
): CreateInstanceRequest<AlibabaInstanceSpec> {
  const uid = `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`;
  return { token: `cai-${uid.replaceAll('-', '').slice(0, 40)}`, owner: { clusterId, namespace: 'team-a', name, uid }, spec: s, labels: { profile: 'openclaw-vllm' } };
}

export function provider(endpoint: string, opts: Partial<AlibabaProviderOptions> = {}): AlibabaProvider {
  return createAlibabaProvider({
    clusterId: 'cluster-1',
    endpoint,
    protocol: 'http',
    requestsPerSecond: 50,
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
    ...opts,
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
