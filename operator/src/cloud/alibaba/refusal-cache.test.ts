import { describe, expect, it } from 'vitest';
import { ProviderError } from '../provider.ts';
import { launchKey, RefusalCache } from './refusal-cache.ts';
import type { RunInstancesParams } from './run-request.ts';

const params = (o: Partial<RunInstancesParams> = {}): RunInstancesParams => ({
  regionId: 'cn-beijing',
  zoneId: 'cn-beijing-l',
  instanceType: 'ecs.gn8v-tee.4xlarge',
  imageId: 'm-1',
  vSwitchId: 'vsw-1',
  securityGroupId: 'sg-1',
  instanceName: 'cai-a-b',
  clientToken: 'tok-1',
  systemDisk: { category: 'cloud_essd', size: 200 },
  internetMaxBandwidthOut: 0,
  tags: [{ key: 'k', value: 'v' }],
  ...o,
});

describe('RefusalCache', () => {
  it('keys on what ECS checks, not on the token, name or tags', () => {
    expect(launchKey(params())).toBe(launchKey(params({ clientToken: 'other', instanceName: 'x', tags: [] })));
    expect(launchKey(params())).not.toBe(launchKey(params({ zoneId: 'cn-beijing-i' })));
    expect(launchKey(params())).not.toBe(launchKey(params({ userData: 'aGk=' })));
  });

  it('replays a refusal within the window, forgets it after, and never remembers Retryable errors', async () => {
    let t = 0;
    const cache = new RefusalCache(1000, () => t);
    let calls = 0;
    const refuse = (kind: 'Capacity' | 'Retryable') => async () => {
      calls++;
      throw new ProviderError(kind, 'C', `m${calls}`, `R-${calls}`);
    };
    await expect(cache.guard(params(), refuse('Capacity'))).rejects.toMatchObject({ requestId: 'R-1' });
    await expect(cache.guard(params({ clientToken: 'x' }), refuse('Capacity'))).rejects.toMatchObject({ requestId: 'R-1' });
    expect(calls).toBe(1);
    t = 1000;
    await expect(cache.guard(params(), refuse('Retryable'))).rejects.toMatchObject({ requestId: 'R-2' });
    await expect(cache.guard(params(), async () => 'ok')).resolves.toBe('ok');
    expect(calls).toBe(2);
  });
});
