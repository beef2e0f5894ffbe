// Optional helper: create (or reuse) a security group that opens only the agent gateway port (TNG,
// 18789) and, for debug images, SSH, each only from configured CIDRs. Never 0.0.0.0/0 by default.
import { createHash } from 'node:crypto';
import { ProviderError } from '../provider.ts';
import type { EcsCaller } from './caller.ts';
import { checkCidr } from './cidr.ts';
import { Ecs } from './sdk.ts';
import { clusterSelector, type Tag } from './tags.ts';

export const TNG_PORT = 18789;
export const SSH_PORT = 22;

export interface SecurityGroupOptions {
  regionId: string;
  vpcId: string;
  /** Security group name; reused when one with this name, VPC and our cluster tags exists. */
  name: string;
  clusterId: string;
  /** Sources allowed to reach the opened ports (IPv4 CIDRs). Required: there is no default. */
  allowedCidrs: string[];
  /** Ports to open (default [18789]). Add 8006 when the operator pushes credentials (Challenge mode). */
  ports?: number[];
  /** Also open SSH (22): only for debug images. */
  debugSsh?: boolean;
  /** Permit a /0 source. Off by default. */
  allowAnywhere?: boolean;
}

export interface SecurityGroupResult {
  securityGroupId: string;
  created: boolean;
  rules: Array<{ port: number; cidr: string }>;
}

function invalid(field: string, why: string): ProviderError {
  return new ProviderError('InvalidSpec', 'InvalidParameter', `${field}: ${why}`);
}

export async function ensureSecurityGroup(caller: EcsCaller, o: SecurityGroupOptions): Promise<SecurityGroupResult> {
  if (!o.vpcId) throw invalid('vpcId', 'must not be empty');
  if (!/^[A-Za-z][\w.:-]{1,127}$/.test(o.name)) throw invalid('name', 'must be 2-128 characters, start with a letter, and use letters, digits, . _ - :');
  if (o.allowedCidrs.length === 0) throw invalid('allowedCidrs', 'at least one source CIDR is required (there is no open-to-all default)');
  const cidrs = [...new Set(o.allowedCidrs.map((c, i) => checkCidr(`allowedCidrs[${i}]`, c, o.allowAnywhere ?? false)))];
  const ports = [...new Set([...(o.ports ?? [TNG_PORT]), ...(o.debugSsh ? [SSH_PORT] : [])])];
  for (const p of ports) if (!Number.isInteger(p) || p < 1 || p > 65535) throw invalid('ports', `${p} is not a TCP port`);
  const tags: Tag[] = [...clusterSelector(o.clusterId), { key: 'confidential-agent.io/security-group', value: o.name }];

  const existing = await caller.call('DescribeSecurityGroups', (c) =>
    c.describeSecurityGroups(
      new Ecs.DescribeSecurityGroupsRequest({
        regionId: o.regionId,
        vpcId: o.vpcId,
        securityGroupName: o.name,
        tag: tags.map((t) => new Ecs.DescribeSecurityGroupsRequestTag({ key: t.key, value: t.value })),
      }),
    ),
  );
  let securityGroupId = existing.body?.securityGroups?.securityGroup?.find((g) => g.securityGroupName === o.name && g.vpcId === o.vpcId)?.securityGroupId;
  const created = !securityGroupId;
  if (!securityGroupId) {
    const token = createHash('sha256').update(`${o.clusterId}\0${o.regionId}\0${o.vpcId}\0${o.name}`).digest('hex').slice(0, 32);
    const resp = await caller.call('CreateSecurityGroup', (c) =>
      c.createSecurityGroup(
        new Ecs.CreateSecurityGroupRequest({
          regionId: o.regionId,
          vpcId: o.vpcId,
          securityGroupName: o.name,
          securityGroupType: 'normal',
          description: 'Confidential agent instances (managed by confidential-agent-operator)',
          clientToken: token,
          tag: tags.map((t) => new Ecs.CreateSecurityGroupRequestTag({ key: t.key, value: t.value })),
        }),
      ),
    );
    securityGroupId = resp.body?.securityGroupId;
    if (!securityGroupId) throw new ProviderError('Retryable', 'EmptyResponse', 'CreateSecurityGroup returned no SecurityGroupId', resp.body?.requestId);
  }
  const rules = ports.flatMap((port) => cidrs.map((cidr) => ({ port, cidr })));
  const sgId = securityGroupId;
  const auth = await caller.attempt(
    'AuthorizeSecurityGroup',
    (c) =>
      c.authorizeSecurityGroup(
        new Ecs.AuthorizeSecurityGroupRequest({
          regionId: o.regionId,
          securityGroupId: sgId,
          permissions: rules.map(
            (r) =>
              new Ecs.AuthorizeSecurityGroupRequestPermissions({
                ipProtocol: 'TCP',
                portRange: `${r.port}/${r.port}`,
                sourceCidrIp: r.cidr,
                policy: 'accept',
                priority: '1',
                description: r.port === SSH_PORT ? 'debug SSH' : `agent port ${r.port}`,
              }),
          ),
        }),
      ),
    { expectCodes: ['InvalidPermission.Duplicate'] },
  );
  if (!auth.ok && auth.error.code !== 'InvalidPermission.Duplicate') throw auth.error;
  return { securityGroupId: sgId, created, rules };
}
