// Instance actions: RunInstances (with DryRun and ClientToken idempotency), DescribeInstances,
// DeleteInstance(s), StopInstance, StartInstance, DescribeAvailableResource.
import { createHash } from 'node:crypto';
import { EcsApiError, invalidParam } from './api-error.ts';
import type { Params, SimTag } from './params.ts';
import { newId, TDX_SECURITY_OPTION_TYPES, type SimInstance, type SimState } from './state.ts';

type Body = Record<string, unknown>;

const DISK_CATEGORIES = new Set(['cloud_essd', 'cloud_essd_entry', 'cloud_auto', 'cloud_efficiency', 'cloud_ssd']);
/** Parameters that do not take part in the ClientToken fingerprint. */
const NOT_FINGERPRINTED = new Set(['ClientToken', 'DryRun']);

function fingerprint(p: Params): string {
  const entries = Object.entries(p.raw).filter(([k]) => !NOT_FINGERPRINTED.has(k)).sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}

function checkTags(tags: SimTag[]): void {
  if (tags.length > 20) throw new EcsApiError(400, 'InvalidTagCount', 'The number of tags exceeds 20.');
  for (const t of tags) {
    if (/^(aliyun|acs:)/i.test(t.key) || t.key.length > 128) throw new EcsApiError(400, 'InvalidTagKey.Malformed', `The tag key "${t.key}" is not valid.`);
    if (t.value.length > 128) throw new EcsApiError(400, 'InvalidTagValue.Malformed', `The tag value for "${t.key}" is not valid.`);
  }
}

export function runInstances(s: SimState, p: Params): Body {
  const regionId = p.need('RegionId');
  const token = p.str('ClientToken');
  if (token !== undefined && (token.length > 64 || !/^[\x21-\x7e]+$/.test(token))) throw invalidParam('ClientToken', 'at most 64 ASCII characters');
  const fp = fingerprint(p);
  const dryRun = p.bool('DryRun');
  if (token !== undefined && !dryRun) {
    const prior = s.runTokens.get(token);
    if (prior) {
      if (prior.fingerprint !== fp) {
        throw new EcsApiError(400, 'IdempotentParameterMismatch', 'The specified parameter has changed while using an already used clientToken.');
      }
      return { InstanceIdSets: { InstanceIdSet: prior.instanceIds } };
    }
  }
  const instanceType = p.need('InstanceType');
  const imageId = p.need('ImageId');
  const vSwitchId = p.need('VSwitchId');
  const securityGroupIds = p.str('SecurityGroupId') ? [p.need('SecurityGroupId')] : p.indexed('SecurityGroupIds');
  if (securityGroupIds.length === 0) throw new EcsApiError(400, 'MissingParameter', 'The input parameter "SecurityGroupId" that is mandatory for processing this request is not supplied.');
  // Without ZoneId ECS picks a zone that sells the type; the simulator picks the first with stock.
  const zoneId = p.str('ZoneId') ?? Object.keys(s.catalog).find((z) => s.catalog[z]?.[instanceType] === 'WithStock') ?? `${regionId}-a`;
  if (!zoneId.startsWith(`${regionId}-`)) throw new EcsApiError(400, 'InvalidZoneId.NotFound', `The specified zone "${zoneId}" does not exist in region "${regionId}".`);
  const amount = p.int('Amount', 1, 100) ?? 1;
  const bandwidth = p.int('InternetMaxBandwidthOut', 0, 200) ?? 0;
  const category = p.str('SystemDisk.Category') ?? 'cloud_efficiency';
  if (!DISK_CATEGORIES.has(category)) throw new EcsApiError(400, 'InvalidSystemDiskCategory.ValueNotSupported', `The specified system disk category "${category}" is not supported.`);
  const size = p.int('SystemDisk.Size', 20, 32768) ?? 40;
  const tags = p.tags();
  checkTags(tags);
  const userDataB64 = p.str('UserData');
  if (userDataB64 !== undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(userDataB64)) throw new EcsApiError(400, 'InvalidUserData.Base64FormatInvalid', 'The specified UserData is not base64 encoded.');
    if (Buffer.from(userDataB64, 'base64').length > 32 * 1024) throw new EcsApiError(400, 'InvalidUserData.SizeExceeded', 'The specified UserData exceeds 32 KB.');
  }
  const ccMode = p.str('SecurityOptions.ConfidentialComputingMode');
  if (ccMode !== undefined && ccMode !== 'TDX' && ccMode !== 'Enclave') throw invalidParam('SecurityOptions.ConfidentialComputingMode', `"${ccMode}" is not supported`);

  const zone = s.catalog[zoneId];
  if (!zone) throw new EcsApiError(403, 'Zone.NotOnSale', `The specified zone "${zoneId}" is not available for purchase.`);
  const stock = zone[instanceType];
  if (stock === undefined) throw new EcsApiError(400, 'InvalidInstanceType.NotSupported', `The specified InstanceType "${instanceType}" is not supported in zone "${zoneId}".`);
  if (ccMode === 'TDX' && !TDX_SECURITY_OPTION_TYPES.test(instanceType)) {
    throw new EcsApiError(400, 'InvalidResourceType.NotSupported', `The instance type "${instanceType}" does not support ConfidentialComputingMode TDX (grayBizType: gray_tdx).`);
  }
  if (stock === 'WithoutStock') {
    throw new EcsApiError(403, 'OperationDenied.NoStock', 'The requested resource is sold out in the specified zone; try other types of resources or other regions and zones.');
  }
  if (s.live().length + amount > s.maxInstances) {
    throw new EcsApiError(403, 'QuotaExceed.ElasticQuota', 'No additional quota is available for the specified ECS instance type.');
  }
  const privateIp = p.str('PrivateIpAddress');
  if (privateIp && s.live().some((i) => i.privateIp === privateIp)) throw new EcsApiError(400, 'InvalidPrivateIpAddress.Duplicated', `The private IP "${privateIp}" is already in use.`);
  if (dryRun) throw new EcsApiError(400, 'DryRunOperation', 'Request validation has been passed with DryRun flag set.');

  const ids: string[] = [];
  for (let n = 0; n < amount; n++) {
    const inst: SimInstance = {
      instanceId: newId('i'),
      regionId,
      zoneId,
      instanceType,
      imageId,
      vSwitchId,
      vpcId: `vpc-${createHash('sha256').update(vSwitchId).digest('hex').slice(0, 20)}`,
      securityGroupIds,
      instanceName: p.str('InstanceName') ?? '',
      privateIp: (n === 0 ? privateIp : undefined) ?? s.allocatePrivateIp(),
      internetMaxBandwidthOut: bandwidth,
      systemDisk: { category, size },
      tags,
      createdAt: s.now(),
      status: 'Pending',
      since: s.now(),
      deleting: false,
      ...(bandwidth > 0 ? { publicIp: s.allocatePublicIp() } : {}),
      ...(ccMode ? { confidentialComputingMode: ccMode } : {}),
      ...(userDataB64 ? { userData: userDataB64 } : {}),
      ...(token ? { clientToken: token } : {}),
    };
    s.instances.set(inst.instanceId, inst);
    ids.push(inst.instanceId);
  }
  if (token !== undefined) s.runTokens.set(token, { fingerprint: fp, instanceIds: ids });
  return { InstanceIdSets: { InstanceIdSet: ids }, TradePrice: 0 };
}

function ecsTime(ms: number): string {
  return new Date(ms).toISOString().replace(/:\d\d\.\d+Z$/, 'Z'); // ECS style: 2026-11-21T17:49Z
}

export function instanceView(inst: SimInstance): Body {
  return {
    InstanceId: inst.instanceId,
    InstanceName: inst.instanceName,
    RegionId: inst.regionId,
    ZoneId: inst.zoneId,
    InstanceType: inst.instanceType,
    InstanceTypeFamily: inst.instanceType.split('.').slice(0, 2).join('.'),
    ImageId: inst.imageId,
    Status: inst.status,
    CreationTime: ecsTime(inst.createdAt),
    StartTime: ecsTime(inst.createdAt),
    InstanceChargeType: 'PostPaid',
    InstanceNetworkType: 'vpc',
    InternetChargeType: inst.internetMaxBandwidthOut > 0 ? 'PayByTraffic' : '',
    InternetMaxBandwidthOut: inst.internetMaxBandwidthOut,
    OSType: 'linux',
    DeletionProtection: false,
    VpcAttributes: { VpcId: inst.vpcId, VSwitchId: inst.vSwitchId, PrivateIpAddress: { IpAddress: [inst.privateIp] }, NatIpAddress: '' },
    PublicIpAddress: { IpAddress: inst.publicIp ? [inst.publicIp] : [] },
    EipAddress: { IpAddress: '', AllocationId: '', InternetChargeType: '' },
    SecurityGroupIds: { SecurityGroupId: inst.securityGroupIds },
    SecurityOptions: { ConfidentialComputingMode: inst.confidentialComputingMode ?? '', TrustedSystemMode: '' },
    Tags: { Tag: inst.tags.map((t) => ({ TagKey: t.key, TagValue: t.value })) },
    OperationLocks: { LockReason: [] },
  };
}

export function describeInstances(s: SimState, p: Params): Body {
  const regionId = p.need('RegionId');
  const ids = p.jsonArray('InstanceIds', 'InvalidInstanceIds.Malformed');
  const tags = p.tags();
  const status = p.str('Status');
  const zoneId = p.str('ZoneId');
  let list = s.live().filter((i) => i.regionId === regionId);
  if (ids) list = list.filter((i) => ids.includes(i.instanceId));
  if (status) list = list.filter((i) => i.status === status);
  if (zoneId) list = list.filter((i) => i.zoneId === zoneId);
  if (p.str('VSwitchId')) list = list.filter((i) => i.vSwitchId === p.str('VSwitchId'));
  if (p.str('InstanceName')) list = list.filter((i) => i.instanceName === p.str('InstanceName'));
  list = list.filter((i) => tags.every((t) => i.tags.some((it) => it.key === t.key && (t.value === '' || it.value === t.value))));
  list.sort((a, b) => a.createdAt - b.createdAt || a.instanceId.localeCompare(b.instanceId));
  const maxResults = p.int('MaxResults', 1, 100);
  if (maxResults !== undefined || p.str('NextToken')) {
    const start = p.str('NextToken') ? Number(Buffer.from(p.need('NextToken'), 'base64url').toString()) : 0;
    if (!Number.isInteger(start) || start < 0) throw new EcsApiError(400, 'InvalidNextToken.Malformed', 'The specified NextToken is not valid.');
    const size = maxResults ?? 10;
    const page = list.slice(start, start + size);
    const next = start + size < list.length ? Buffer.from(String(start + size)).toString('base64url') : '';
    return { TotalCount: list.length, NextToken: next, Instances: { Instance: page.map(instanceView) } };
  }
  const pageNumber = p.int('PageNumber', 1) ?? 1;
  const pageSize = p.int('PageSize', 1, 100) ?? 10;
  const page = list.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
  return { TotalCount: list.length, PageNumber: pageNumber, PageSize: pageSize, Instances: { Instance: page.map(instanceView) } };
}

function notFound(id: string): EcsApiError {
  return new EcsApiError(404, 'InvalidInstanceId.NotFound', `The specified InstanceId "${id}" does not exist.`);
}

/** Validates and starts deleting one instance (Running needs Force; Pending/Starting/Stopping are refused). */
function deleteOne(s: SimState, inst: SimInstance, force: boolean, dryRun: boolean): void {
  if (inst.status === 'Pending') throw new EcsApiError(403, 'IncorrectInstanceStatus.Initializing', 'The specified instance is initializing; try again later.');
  if (inst.status === 'Starting' || inst.status === 'Stopping') throw new EcsApiError(403, 'IncorrectInstanceStatus', 'The current status of the resource does not support this operation.');
  if (inst.status === 'Running' && !force) throw new EcsApiError(403, 'IncorrectInstanceStatus', 'The instance is Running; stop it first or set Force=true.');
  if (dryRun) return;
  inst.deleting = true;
  if (inst.status === 'Running') s.setStatus(inst, 'Stopping');
  else s.advance(inst);
}

export function deleteInstance(s: SimState, p: Params): Body {
  const id = p.need('InstanceId');
  const inst = s.liveInstance(id);
  if (!inst) throw notFound(id);
  deleteOne(s, inst, p.bool('Force'), p.bool('DryRun'));
  if (p.bool('DryRun')) throw new EcsApiError(400, 'DryRunOperation', 'Request validation has been passed with DryRun flag set.');
  return {};
}

export function deleteInstances(s: SimState, p: Params): Body {
  const regionId = p.need('RegionId');
  const ids = p.indexed('InstanceId');
  if (ids.length === 0) throw new EcsApiError(400, 'MissingParameter', 'The input parameter "InstanceId" that is mandatory for processing this request is not supplied.');
  const found = ids.map((id) => {
    const inst = s.liveInstance(id);
    if (!inst || inst.regionId !== regionId) throw notFound(id);
    return inst;
  });
  for (const inst of found) deleteOne(s, inst, p.bool('Force'), true); // all-or-nothing validation first
  if (p.bool('DryRun')) throw new EcsApiError(400, 'DryRunOperation', 'Request validation has been passed with DryRun flag set.');
  for (const inst of found) deleteOne(s, inst, p.bool('Force'), false);
  return {};
}

export function stopInstance(s: SimState, p: Params): Body {
  const id = p.need('InstanceId');
  const inst = s.liveInstance(id);
  if (!inst) throw notFound(id);
  if (inst.status !== 'Running') throw new EcsApiError(403, 'IncorrectInstanceStatus', `The instance is ${inst.status}; only Running instances can be stopped.`);
  if (p.bool('DryRun')) throw new EcsApiError(400, 'DryRunOperation', 'Request validation has been passed with DryRun flag set.');
  s.setStatus(inst, 'Stopping');
  return {};
}

export function startInstance(s: SimState, p: Params): Body {
  const id = p.need('InstanceId');
  const inst = s.liveInstance(id);
  if (!inst) throw notFound(id);
  if (inst.status !== 'Stopped' || inst.deleting) throw new EcsApiError(403, 'IncorrectInstanceStatus', `The instance is ${inst.status}; only Stopped instances can be started.`);
  s.setStatus(inst, 'Starting');
  return {};
}

export function describeAvailableResource(s: SimState, p: Params): Body {
  const regionId = p.need('RegionId');
  const destination = p.need('DestinationResource');
  if (destination !== 'InstanceType' && destination !== 'Zone') throw invalidParam('DestinationResource', `"${destination}" is not supported by the simulator`);
  const zoneFilter = p.str('ZoneId');
  const typeFilter = p.str('InstanceType');
  const zones = Object.entries(s.catalog)
    .filter(([zoneId]) => zoneFilter === undefined || zoneId === zoneFilter)
    .map(([zoneId, types]) => {
      const offered = Object.entries(types).filter(([t]) => typeFilter === undefined || t === typeFilter);
      const anyStock = offered.some(([, st]) => st === 'WithStock');
      return {
        RegionId: regionId,
        ZoneId: zoneId,
        Status: anyStock ? 'Available' : 'SoldOut',
        StatusCategory: anyStock ? 'WithStock' : 'WithoutStock',
        AvailableResources: {
          AvailableResource: [
            {
              Type: destination,
              SupportedResources: {
                SupportedResource: destination === 'Zone'
                  ? [{ Value: zoneId, Status: anyStock ? 'Available' : 'SoldOut', StatusCategory: anyStock ? 'WithStock' : 'WithoutStock' }]
                  : offered.map(([t, st]) => ({ Value: t, Status: st === 'WithStock' ? 'Available' : 'SoldOut', StatusCategory: st })),
              },
            },
          ],
        },
        offered: offered.length,
      };
    })
    .filter((z) => z.offered > 0)
    .map(({ offered: _offered, ...z }) => z);
  return { AvailableZones: { AvailableZone: zones } };
}
