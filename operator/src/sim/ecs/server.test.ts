// The simulator at the HTTP level: response shapes, validation errors, lifecycle under a fake clock,
// paging, idempotency and faults. (The provider tests drive it through the real SDK.)
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEcsSimulator, type EcsSimulator } from './server.ts';

let clock = 0;
let sim: EcsSimulator;
beforeEach(async () => {
  clock = 1_700_000_000_000;
  sim = await startEcsSimulator({ now: () => clock, timings: { pendingMs: 1000, startingMs: 1000, stoppingMs: 1000, imageImportMs: 1000 } });
});
afterEach(async () => sim.close());

const AUTH = 'ACS3-HMAC-SHA256 Credential=LTAItestkey0000,SignedHeaders=host;x-acs-action,Signature=00ff';

async function call(action: string, params: Record<string, string>, auth: string | null = AUTH): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://${sim.endpoint}/?${new URLSearchParams(params)}`, {
    method: 'POST',
    headers: { 'x-acs-action': action, 'x-acs-version': '2014-05-26', ...(auth ? { authorization: auth } : {}) },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const RUN = { RegionId: 'cn-beijing', ZoneId: 'cn-beijing-l', InstanceType: 'ecs.g8i.xlarge', ImageId: 'm-1', VSwitchId: 'vsw-1', SecurityGroupId: 'sg-1' };

async function launch(extra: Record<string, string> = {}): Promise<string> {
  const r = await call('RunInstances', { ...RUN, ...extra });
  expect(r.status).toBe(200);
  return (r.body.InstanceIdSets as { InstanceIdSet: string[] }).InstanceIdSet[0]!;
}

async function status(id: string): Promise<string | undefined> {
  const r = await call('DescribeInstances', { RegionId: 'cn-beijing', InstanceIds: JSON.stringify([id]) });
  return (r.body.Instances as { Instance: Array<{ Status: string }> }).Instance[0]?.Status;
}

describe('ECS simulator', () => {
  it('answers with RequestId and ECS error shapes', async () => {
    const noAuth = await call('DescribeInstances', { RegionId: 'cn-beijing' }, null);
    expect(noAuth.status).toBe(400);
    expect(noAuth.body).toMatchObject({ Code: 'MissingAccessKeyId', RequestId: expect.stringMatching(/^[0-9A-F-]{36}$/) });
    expect((await call('NoSuchAction', {})).body).toMatchObject({ Code: 'InvalidAction.NotFound' });
    expect((await call('DescribeInstances', {})).body).toMatchObject({ Code: 'MissingParameter' });
    expect((await call('DescribeInstances', { RegionId: 'cn-beijing', InstanceIds: 'i-1' })).body).toMatchObject({ Code: 'InvalidInstanceIds.Malformed' });
    expect((await call('DescribeInstances', { RegionId: 'cn-beijing', MaxResults: 'ten' })).body).toMatchObject({ Code: 'InvalidParameter' });
  });

  it('validates RunInstances like ECS and honours DryRun', async () => {
    const bad = async (extra: Record<string, string>, drop?: string) => {
      const p: Record<string, string> = { ...RUN, ...extra };
      if (drop) delete p[drop];
      return (await call('RunInstances', p)).body.Code;
    };
    expect(await bad({}, 'InstanceType')).toBe('MissingParameter');
    expect(await bad({ UserData: 'not base64!' })).toBe('InvalidUserData.Base64FormatInvalid');
    expect(await bad({ 'Tag.1.Key': 'aliyun:x', 'Tag.1.Value': 'v' })).toBe('InvalidTagKey.Malformed');
    expect(await bad({ 'SystemDisk.Category': 'floppy' })).toBe('InvalidSystemDiskCategory.ValueNotSupported');
    expect(await bad({ 'SystemDisk.Size': '10' })).toBe('InvalidParameter');
    expect(await bad({ ZoneId: 'cn-beijing-z' })).toBe('Zone.NotOnSale');
    expect(await bad({ ZoneId: 'cn-hangzhou-b' })).toBe('InvalidZoneId.NotFound');
    expect(await bad({ InstanceType: 'ecs.g7.xlarge' })).toBe('InvalidInstanceType.NotSupported');
    expect(await bad({ InstanceType: 'ecs.gn8v-tee.4xlarge', 'SecurityOptions.ConfidentialComputingMode': 'TDX' })).toBe('InvalidResourceType.NotSupported');
    expect(await bad({ ClientToken: 'x'.repeat(65) })).toBe('InvalidParameter');
    expect(await bad({ DryRun: 'true' })).toBe('DryRunOperation');
    expect(sim.instances()).toHaveLength(0);
  });

  it('ClientToken: same parameters -> same instance, changed parameters -> IdempotentParameterMismatch', async () => {
    const a = await launch({ ClientToken: 'tok-1' });
    expect(await launch({ ClientToken: 'tok-1' })).toBe(a);
    const r = await call('RunInstances', { ...RUN, ClientToken: 'tok-1', ImageId: 'm-2' });
    expect(r.status).toBe(400);
    expect(r.body.Code).toBe('IdempotentParameterMismatch');
    expect(sim.instances()).toHaveLength(1);
  });

  it('moves Pending -> Starting -> Running -> Stopping -> Stopped -> Running, and deletes with Force', async () => {
    const id = await launch();
    expect(await status(id)).toBe('Pending');
    expect((await call('DeleteInstance', { InstanceId: id, Force: 'true' })).body.Code).toBe('IncorrectInstanceStatus.Initializing');
    clock += 1000;
    expect(await status(id)).toBe('Starting');
    clock += 1000;
    expect(await status(id)).toBe('Running');
    expect((await call('DeleteInstance', { InstanceId: id })).body.Code).toBe('IncorrectInstanceStatus');
    expect((await call('StopInstance', { InstanceId: id })).status).toBe(200);
    expect(await status(id)).toBe('Stopping');
    clock += 1000;
    expect(await status(id)).toBe('Stopped');
    expect((await call('StartInstance', { InstanceId: id })).status).toBe(200);
    clock += 1000;
    expect(await status(id)).toBe('Running');
    expect((await call('DeleteInstance', { InstanceId: id, Force: 'true' })).status).toBe(200);
    expect(await status(id)).toBe('Stopping');
    clock += 1000;
    expect(await status(id)).toBeUndefined();
    expect((await call('DeleteInstance', { InstanceId: id, Force: 'true' })).body.Code).toBe('InvalidInstanceId.NotFound');
    expect(sim.instances({ includeDeleted: true }).find((i) => i.instanceId === id)?.deletedAt).toBe(clock);
  });

  it('DeleteInstances is all-or-nothing', async () => {
    const a = await launch();
    clock += 2000;
    const r = await call('DeleteInstances', { RegionId: 'cn-beijing', 'InstanceId.1': a, 'InstanceId.2': 'i-missing', Force: 'true' });
    expect(r.body.Code).toBe('InvalidInstanceId.NotFound');
    expect(await status(a)).toBe('Running');
    expect((await call('DeleteInstances', { RegionId: 'cn-beijing', 'InstanceId.1': a, Force: 'true' })).status).toBe(200);
    expect(await status(a)).toBe('Stopping');
  });

  it('filters by tags (AND) and pages with MaxResults/NextToken', async () => {
    for (let i = 0; i < 5; i++) await launch({ 'Tag.1.Key': 'team', 'Tag.1.Value': i < 3 ? 'a' : 'b', 'Tag.2.Key': 'k', 'Tag.2.Value': 'v' });
    const page1 = await call('DescribeInstances', { RegionId: 'cn-beijing', 'Tag.1.Key': 'team', 'Tag.1.Value': 'a', 'Tag.2.Key': 'k', 'Tag.2.Value': 'v', MaxResults: '2' });
    expect(page1.body.TotalCount).toBe(3);
    expect((page1.body.Instances as { Instance: unknown[] }).Instance).toHaveLength(2);
    const next = page1.body.NextToken as string;
    expect(next).not.toBe('');
    const page2 = await call('DescribeInstances', { RegionId: 'cn-beijing', 'Tag.1.Key': 'team', 'Tag.1.Value': 'a', MaxResults: '2', NextToken: next });
    expect((page2.body.Instances as { Instance: unknown[] }).Instance).toHaveLength(1);
    expect(page2.body.NextToken).toBe('');
    expect((await call('DescribeInstances', { RegionId: 'cn-hangzhou' })).body.TotalCount).toBe(0);
  });

  it('injects throttling, conflicts and server-side rate limits, and counts request rates', async () => {
    sim.faults.throttleBurst(2, 'DescribeInstances');
    expect((await call('DescribeInstances', { RegionId: 'cn-beijing' })).body.Code).toBe('Throttling.User');
    expect((await call('DescribeAvailableResource', { RegionId: 'cn-beijing', DestinationResource: 'InstanceType' })).status).toBe(200);
    expect((await call('DescribeInstances', { RegionId: 'cn-beijing' })).body.Code).toBe('Throttling.User');
    expect((await call('DescribeInstances', { RegionId: 'cn-beijing' })).status).toBe(200);
    sim.faults.conflict('StopInstance');
    expect((await call('StopInstance', { InstanceId: 'i-x' })).status).toBe(409);
    clock += 1000;
    sim.faults.rateLimit(3);
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await call('DescribeInstances', { RegionId: 'cn-beijing' })).body.Code);
    expect(codes).toEqual([undefined, undefined, undefined, 'Throttling.User', 'Throttling.User']);
    clock += 1000;
    expect((await call('DescribeInstances', { RegionId: 'cn-beijing' })).status).toBe(200);
    expect(sim.peakRate(1000)).toBe(5); // 5 at t0, 5 at t0+1s, 1 at t0+2s
    expect(sim.peakRate(1001)).toBe(10);
    expect(sim.peakRate(1000, 'StopInstance')).toBe(1);
    expect(sim.requestLog.every((r) => !JSON.stringify(r).includes('LTAItestkey0000'))).toBe(true);
  });

  it('validates security-group rules and image imports', async () => {
    const sg = (await call('CreateSecurityGroup', { RegionId: 'cn-beijing', VpcId: 'vpc-1', SecurityGroupName: 'g' })).body.SecurityGroupId as string;
    const rule = (r: Record<string, string>) => call('AuthorizeSecurityGroup', { RegionId: 'cn-beijing', SecurityGroupId: sg, ...r });
    expect((await rule({ 'Permissions.1.IpProtocol': 'TCP', 'Permissions.1.PortRange': '90/80', 'Permissions.1.SourceCidrIp': '10.0.0.0/8' })).body.Code).toBe('InvalidPortRange.Malformed');
    expect((await rule({ 'Permissions.1.IpProtocol': 'XTP', 'Permissions.1.PortRange': '80/80', 'Permissions.1.SourceCidrIp': '10.0.0.0/8' })).body.Code).toBe('InvalidParameter');
    expect((await rule({ 'Permissions.1.IpProtocol': 'TCP', 'Permissions.1.PortRange': '80/80', 'Permissions.1.SourceCidrIp': '10.0.0.0/40' })).body.Code).toBe('InvalidSourceCidrIp.Malformed');
    expect((await rule({})).body.Code).toBe('MissingParameter');
    expect((await call('AuthorizeSecurityGroup', { RegionId: 'cn-beijing', SecurityGroupId: 'sg-nope', IpProtocol: 'TCP', PortRange: '1/1', SourceCidrIp: '1.1.1.1/32' })).body.Code).toBe('InvalidSecurityGroupId.NotFound');
    expect((await call('ImportImage', { RegionId: 'cn-beijing', ImageName: 'x' })).body.Code).toBe('MissingParameter');
    const img = await call('ImportImage', { RegionId: 'cn-beijing', ImageName: 'x', 'DiskDeviceMapping.1.OSSBucket': 'b', 'DiskDeviceMapping.1.OSSObject': 'o.raw', BootMode: 'UEFI' });
    const imageId = img.body.ImageId as string;
    expect((await call('DescribeImages', { RegionId: 'cn-beijing', ImageId: imageId })).body.TotalCount).toBe(0); // only Available by default
    expect((await call('DescribeImages', { RegionId: 'cn-beijing', ImageId: imageId, Status: 'Creating,Available' })).body).toMatchObject({ TotalCount: 1 });
    clock += 1000;
    expect((await call('DescribeImages', { RegionId: 'cn-beijing', ImageId: imageId })).body).toMatchObject({ Images: { Image: [{ ImageId: imageId, Status: 'Available', BootMode: 'UEFI' }] } });
  });
});
