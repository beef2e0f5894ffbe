// Security group actions: CreateSecurityGroup (ClientToken idempotent), AuthorizeSecurityGroup
// (Permissions.N and the legacy flat form; an identical rule is a no-op), DescribeSecurityGroups,
// DescribeSecurityGroupAttribute.
import { createHash } from 'node:crypto';
import { EcsApiError, invalidParam } from './api-error.ts';
import type { Params } from './params.ts';
import { newId, type SimSecurityGroup, type SimState } from './state.ts';

type Body = Record<string, unknown>;

const PROTOCOLS = new Set(['TCP', 'UDP', 'ICMP', 'GRE', 'ALL']);
const CIDR4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function fingerprint(p: Params): string {
  const e = Object.entries(p.raw).filter(([k]) => k !== 'ClientToken').sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(e)).digest('hex');
}

function group(s: SimState, p: Params): SimSecurityGroup {
  const id = p.need('SecurityGroupId');
  const sg = s.securityGroups.get(id);
  if (!sg || sg.regionId !== p.need('RegionId')) throw new EcsApiError(404, 'InvalidSecurityGroupId.NotFound', `The specified SecurityGroupId "${id}" does not exist.`);
  return sg;
}

export function createSecurityGroup(s: SimState, p: Params): Body {
  const regionId = p.need('RegionId');
  const token = p.str('ClientToken');
  const fp = fingerprint(p);
  if (token) {
    const prior = s.sgTokens.get(token);
    if (prior && prior.fingerprint !== fp) throw new EcsApiError(400, 'IdempotentParameterMismatch', 'The specified parameter has changed while using an already used clientToken.');
    if (prior) return { SecurityGroupId: prior.securityGroupId };
  }
  const sg: SimSecurityGroup = {
    securityGroupId: newId('sg'),
    regionId,
    vpcId: p.need('VpcId'),
    name: p.str('SecurityGroupName') ?? '',
    description: p.str('Description') ?? '',
    tags: p.tags(),
    createdAt: s.now(),
    permissions: [],
  };
  s.securityGroups.set(sg.securityGroupId, sg);
  if (token) s.sgTokens.set(token, { fingerprint: fp, securityGroupId: sg.securityGroupId });
  return { SecurityGroupId: sg.securityGroupId };
}

export function authorizeSecurityGroup(s: SimState, p: Params): Body {
  const sg = group(s, p);
  const fields = ['IpProtocol', 'PortRange', 'SourceCidrIp', 'Policy', 'Priority', 'Description'];
  const rules = p.records('Permissions', fields);
  if (rules.length === 0 && p.str('IpProtocol')) rules.push(Object.fromEntries(fields.flatMap((f) => (p.str(f) ? [[f, p.need(f)]] : []))));
  if (rules.length === 0) throw new EcsApiError(400, 'MissingParameter', 'The input parameter "Permissions" that is mandatory for processing this request is not supplied.');
  const parsed = rules.map((r, i) => {
    const where = `Permissions.${i + 1}`;
    const ipProtocol = (r.IpProtocol ?? '').toUpperCase();
    if (!PROTOCOLS.has(ipProtocol)) throw invalidParam(`${where}.IpProtocol`, `"${r.IpProtocol ?? ''}" is not one of TCP, UDP, ICMP, GRE, ALL`);
    const portRange = r.PortRange ?? '';
    const m = /^(-1|\d{1,5})\/(-1|\d{1,5})$/.exec(portRange);
    if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535) throw new EcsApiError(400, 'InvalidPortRange.Malformed', `The specified ${where}.PortRange "${portRange}" is not valid.`);
    const sourceCidrIp = r.SourceCidrIp ?? '';
    const c = CIDR4.exec(sourceCidrIp);
    if (!c || c.slice(1, 5).some((o) => Number(o) > 255) || Number(c[5]) > 32) throw new EcsApiError(400, 'InvalidSourceCidrIp.Malformed', `The specified ${where}.SourceCidrIp "${sourceCidrIp}" is not valid.`);
    return { ipProtocol, portRange, sourceCidrIp, policy: r.Policy ?? 'accept', priority: r.Priority ?? '1', description: r.Description ?? '' };
  });
  for (const rule of parsed) {
    const dup = sg.permissions.some((x) => x.ipProtocol === rule.ipProtocol && x.portRange === rule.portRange && x.sourceCidrIp === rule.sourceCidrIp && x.policy === rule.policy);
    if (!dup) sg.permissions.push(rule);
  }
  return {};
}

function view(sg: SimSecurityGroup): Body {
  return {
    SecurityGroupId: sg.securityGroupId,
    SecurityGroupName: sg.name,
    Description: sg.description,
    VpcId: sg.vpcId,
    SecurityGroupType: 'normal',
    CreationTime: new Date(sg.createdAt).toISOString().replace(/\.\d+Z$/, 'Z'),
    Tags: { Tag: sg.tags.map((t) => ({ TagKey: t.key, TagValue: t.value })) },
  };
}

export function describeSecurityGroups(s: SimState, p: Params): Body {
  const regionId = p.need('RegionId');
  const ids = p.jsonArray('SecurityGroupIds', 'InvalidSecurityGroupIds.Malformed');
  const tags = p.tags();
  const list = [...s.securityGroups.values()].filter(
    (sg) =>
      sg.regionId === regionId &&
      (!ids || ids.includes(sg.securityGroupId)) &&
      (!p.str('SecurityGroupId') || sg.securityGroupId === p.str('SecurityGroupId')) &&
      (!p.str('VpcId') || sg.vpcId === p.str('VpcId')) &&
      (!p.str('SecurityGroupName') || sg.name === p.str('SecurityGroupName')) &&
      tags.every((t) => sg.tags.some((x) => x.key === t.key && (t.value === '' || x.value === t.value))),
  );
  return { TotalCount: list.length, RegionId: regionId, SecurityGroups: { SecurityGroup: list.map(view) } };
}

export function describeSecurityGroupAttribute(s: SimState, p: Params): Body {
  const sg = group(s, p);
  return {
    ...view(sg),
    RegionId: sg.regionId,
    InnerAccessPolicy: 'Accept',
    Permissions: {
      Permission: sg.permissions.map((r) => ({
        Direction: 'ingress',
        IpProtocol: r.ipProtocol,
        PortRange: r.portRange,
        SourceCidrIp: r.sourceCidrIp,
        Policy: r.policy === 'accept' ? 'Accept' : 'Drop',
        Priority: r.priority,
        Description: r.description,
      })),
    },
  };
}
