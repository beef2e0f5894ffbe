import { describe, expect, it } from 'vitest';
import { AlibabaInstanceSchema, type AlibabaInstanceSpec } from '../../api/confidential-agent.ts';
import { ProviderError, type CreateInstanceRequest } from '../provider.ts';
import { buildRunInstancesParams, wantsTdxSecurityOption } from './run-request.ts';

const spec = (o: Partial<AlibabaInstanceSpec> = {}) => AlibabaInstanceSchema.parse({ imageId: 'm-1', vSwitchId: 'vsw-1', securityGroupId: 'sg-1', ...o });
const req = (o: Partial<CreateInstanceRequest<AlibabaInstanceSpec>> = {}): CreateInstanceRequest<AlibabaInstanceSpec> => ({
  token: 'cai-0123456789abcdef',
  owner: { clusterId: 'c1', namespace: 'ns', name: 'agent', uid: 'u-1' },
  spec: spec(),
  labels: { profile: 'openclaw-vllm' },
  ...o,
});

function fails(r: CreateInstanceRequest<AlibabaInstanceSpec>, needle: string): void {
  let err: unknown;
  try {
    buildRunInstancesParams(r);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ProviderError);
  expect(err).toMatchObject({ kind: 'InvalidSpec', code: 'InvalidParameter' });
  expect((err as Error).message).toContain(needle);
}

describe('wantsTdxSecurityOption', () => {
  it.each([
    ['ecs.gn8v-tee.4xlarge', 'Auto', false],
    ['ecs.gn8v-tee.4xlarge', 'TDX', true],
    ['ecs.g8i.xlarge', 'Auto', true],
    ['ecs.c9i.2xlarge', 'Auto', true],
    ['ecs.ebmg8i.48xlarge', 'Auto', true],
    ['ecs.g8i.xlarge', 'None', false],
    ['ecs.g7.xlarge', 'Auto', false],
    ['ecs.gn8v.4xlarge', 'Auto', false],
  ] as const)('%s with %s -> %s', (instanceType, confidentialComputingMode, want) => {
    expect(wantsTdxSecurityOption({ instanceType, confidentialComputingMode })).toBe(want);
  });
});

describe('buildRunInstancesParams', () => {
  it('maps the defaulted spec, tags and no public IP', () => {
    const p = buildRunInstancesParams(req());
    expect(p).toMatchObject({
      regionId: 'cn-beijing',
      zoneId: 'cn-beijing-l',
      instanceType: 'ecs.gn8v-tee.4xlarge',
      instanceName: 'cai-ns-agent',
      clientToken: 'cai-0123456789abcdef',
      systemDisk: { category: 'cloud_essd', size: 200 },
      internetMaxBandwidthOut: 0,
    });
    expect(p.internetChargeType).toBeUndefined();
    expect(p.confidentialComputingMode).toBeUndefined();
    expect(p.tags.map((t) => t.key)).toEqual([
      'confidential-agent.io/managed-by',
      'confidential-agent.io/cluster-id',
      'confidential-agent.io/namespace',
      'confidential-agent.io/name',
      'confidential-agent.io/uid',
      'confidential-agent.io/client-token',
      'confidential-agent.io/profile',
    ]);
  });

  it('applies schema defaults to a bare spec and base64-encodes user data', () => {
    const p = buildRunInstancesParams(req({ spec: { imageId: 'm', vSwitchId: 'v', securityGroupId: 's', userData: 'héllo' } as AlibabaInstanceSpec }));
    expect(p.userData).toBe(Buffer.from('héllo').toString('base64'));
    expect(p.systemDisk.size).toBe(200);
  });

  it('sets the public IP charge type only with bandwidth, and keeps a prefixed label as is', () => {
    const p = buildRunInstancesParams(req({ spec: spec({ internetMaxBandwidthOut: 5, privateIpAddress: '10.0.1.21' }), labels: { 'example.com/team': 'x' } }));
    expect(p).toMatchObject({ internetMaxBandwidthOut: 5, internetChargeType: 'PayByTraffic', privateIpAddress: '10.0.1.21' });
    expect(p.tags.at(-1)).toEqual({ key: 'example.com/team', value: 'x' });
  });

  it('rejects bad tokens, specs and labels with the field named', () => {
    fails(req({ token: '' }), 'token');
    fails(req({ token: 'x'.repeat(65) }), 'token');
    fails(req({ token: 'has space' }), 'token');
    fails(req({ spec: { vSwitchId: 'v', securityGroupId: 's' } as AlibabaInstanceSpec }), 'spec.instance.alibaba.imageId');
    fails(req({ spec: { ...spec(), instanceType: 'gn8v' } }), 'spec.instance.alibaba.instanceType');
    fails(req({ labels: { 'name': 'x' } }), 'collides with an ownership tag');
    fails(req({ labels: { 'aliyun/x': 'y' } }), 'tag keys');
    fails(req({ labels: { a: 'acs:y' } }), 'tag values');
    fails(req({ labels: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`l${i}`, 'v'])) }), 'ECS allows 20 tags');
    fails(req({ owner: { clusterId: '', namespace: 'n', name: 'a', uid: 'u' } }), 'owner.clusterId');
    fails(req({ owner: { clusterId: 'c'.repeat(129), namespace: 'n', name: 'a', uid: 'u' } }), 'longer than 128');
  });
});
