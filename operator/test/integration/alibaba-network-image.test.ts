// Security-group helper and image import (library and `cai image import`) against the ECS simulator
// with the real SDK.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEcsCaller } from '../../src/cloud/alibaba/caller.ts';
import { ensureSecurityGroup, importImage } from '../../src/cloud/alibaba/index.ts';
import { startEcsSimulator, type EcsSimulator } from '../../src/sim/ecs/index.ts';
import { ProviderError } from '../../src/cloud/provider.ts';
import { command as imageCommand } from '../../src/cli/commands/image.ts';
import { useFakeCredentials } from './alibaba-helpers.ts';

let sim: EcsSimulator;
beforeAll(async () => {
  useFakeCredentials();
  sim = await startEcsSimulator({ timings: { imageImportMs: 300 } });
});
afterAll(async () => sim.close());

const caller = () => createEcsCaller({ regionId: 'cn-beijing', endpoint: sim.endpoint, protocol: 'http', requestsPerSecond: 50, retry: { baseDelayMs: 10, maxDelayMs: 50 } });

describe('security group helper', () => {
  it('creates a group opening only 18789 from the configured CIDRs, and reuses it', async () => {
    const c = caller();
    const opts = { regionId: 'cn-beijing', vpcId: 'vpc-1', name: 'cai-agents', clusterId: 'cluster-1', allowedCidrs: ['10.0.0.0/16', '192.168.10.0/24'] };
    const first = await ensureSecurityGroup(c, opts);
    expect(first.created).toBe(true);
    const sg = sim.state.securityGroups.get(first.securityGroupId)!;
    expect(sg.permissions.map((p) => `${p.ipProtocol} ${p.portRange} ${p.sourceCidrIp}`).sort()).toEqual([
      'TCP 18789/18789 10.0.0.0/16',
      'TCP 18789/18789 192.168.10.0/24',
    ]);
    expect(sg.tags).toEqual(expect.arrayContaining([{ key: 'confidential-agent.io/managed-by', value: 'confidential-agent-operator' }]));
    const again = await ensureSecurityGroup(c, opts);
    expect(again).toMatchObject({ securityGroupId: first.securityGroupId, created: false });
    expect(sim.state.securityGroups.size).toBe(1);
    expect(sg.permissions).toHaveLength(2);
  });

  it('opens SSH only for debug images, still only from the configured CIDRs', async () => {
    const r = await ensureSecurityGroup(caller(), { regionId: 'cn-beijing', vpcId: 'vpc-1', name: 'cai-debug', clusterId: 'cluster-1', allowedCidrs: ['10.0.0.0/16'], debugSsh: true });
    const ports = sim.state.securityGroups.get(r.securityGroupId)!.permissions.map((p) => `${p.portRange} ${p.sourceCidrIp}`).sort();
    expect(ports).toEqual(['18789/18789 10.0.0.0/16', '22/22 10.0.0.0/16']);
  });

  it('refuses 0.0.0.0/0, malformed CIDRs and an empty source list before sending anything', async () => {
    const before = sim.requestLog.length;
    const base = { regionId: 'cn-beijing', vpcId: 'vpc-1', name: 'cai-open', clusterId: 'cluster-1' };
    for (const [allowedCidrs, needle] of [
      [['0.0.0.0/0'], 'whole Internet'],
      [['10.0.0.0/33'], 'prefix > 32'],
      [['10.0.0.256/24'], 'octet > 255'],
      [['10.0.0.0'], 'not an IPv4 CIDR'],
      [[], 'at least one source CIDR'],
    ] as const) {
      const err = await ensureSecurityGroup(caller(), { ...base, allowedCidrs: [...allowedCidrs] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ kind: 'InvalidSpec' });
      expect((err as Error).message).toContain(needle);
    }
    expect(sim.requestLog.length).toBe(before);
    const open = await ensureSecurityGroup(caller(), { ...base, allowedCidrs: ['0.0.0.0/0'], allowAnywhere: true });
    expect(sim.state.securityGroups.get(open.securityGroupId)!.permissions[0]!.sourceCidrIp).toBe('0.0.0.0/0');
  });
});

describe('image import', () => {
  it('imports with UEFI boot and NVMe support and waits for Available', async () => {
    const r = await importImage(caller(), { regionId: 'cn-beijing', imageName: 'cai-openclaw-vllm-prod', ossBucket: 'cai-images-abc123', ossObject: 'images/cai.qcow2', pollMs: 50 });
    expect(r.status).toBe('Available');
    const params = sim.requestLog.find((x) => x.action === 'ImportImage')!.params;
    expect(params).toMatchObject({
      BootMode: 'UEFI',
      'Features.NvmeSupport': 'supported',
      'DiskDeviceMapping.1.OSSBucket': 'cai-images-abc123',
      'DiskDeviceMapping.1.OSSObject': 'images/cai.qcow2',
      'DiskDeviceMapping.1.Format': 'QCOW2',
      'DiskDeviceMapping.1.DiskImageSize': '30',
      Architecture: 'x86_64',
      OSType: 'linux',
    });
    expect(sim.requestLog.filter((x) => x.action === 'DescribeImages').length).toBeGreaterThan(1);
  });

  it('reports a failed import with the image id', async () => {
    sim.faults.failImageImport('images/broken.qcow2');
    const err = await importImage(caller(), { regionId: 'cn-beijing', imageName: 'cai-broken', ossBucket: 'cai-images-abc123', ossObject: 'images/broken.qcow2', pollMs: 50 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'InvalidSpec', code: 'ImageImportFailed' });
    expect((err as Error).message).toMatch(/as m-[0-9a-f]+ ended CreateFailed/);
  });

  it('`cai image import` prints the image and validates its flags', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), readStdin: async () => Buffer.alloc(0), env: process.env };
    const code = await imageCommand.run(
      ['--bucket', 'cai-images-abc123', '--object', 'images/cli.raw', '--name', 'cai-cli', '--endpoint', sim.endpoint, '--protocol', 'http', '--poll', '0.05'],
      io,
    );
    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({ imageId: expect.stringMatching(/^m-/), status: 'Available' });
    expect(sim.requestLog.filter((x) => x.action === 'ImportImage').at(-1)!.params['DiskDeviceMapping.1.Format']).toBe('RAW');

    expect(await imageCommand.run(['--bucket', 'b'], io)).toBe(2);
    expect(err.join('')).toContain('--bucket, --object and --name are required');
    expect(await imageCommand.run(['--bucket', 'bkt', '--object', 'o', '--name', 'n1', '--protocol', 'ftp'], io)).toBe(2);
    expect(await imageCommand.run(['--bucket', 'bkt', '--object', 'o', '--name', 'n1', '--format', 'iso'], io)).toBe(2);
    // Duplicate name: the ECS error code and request id reach the user, exit 1.
    const dup = await imageCommand.run(['--bucket', 'cai-images-abc123', '--object', 'images/x.raw', '--name', 'cai-cli', '--endpoint', sim.endpoint, '--protocol', 'http'], io);
    expect(dup).toBe(1);
    expect(err.join('')).toMatch(/InvalidImageName\.Duplicated: .* \(request id [0-9A-F-]{36}\)/);
  });
});
