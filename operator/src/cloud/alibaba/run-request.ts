// Pure translation of an AlibabaInstanceSpec + owner into RunInstances parameters. Kept apart from the
// SDK so the parameter rules (TDX decision, tags, public IP, user data) are tested without a network.
import { AlibabaInstanceSchema, type AlibabaInstanceSpec } from '../../api/confidential-agent.ts';
import { ProviderError, type CreateInstanceRequest } from '../provider.ts';
import { MAX_TAGS, ownershipTags, TAG_PREFIX, type Tag } from './tags.ts';

export interface RunInstancesParams {
  regionId: string;
  zoneId: string;
  instanceType: string;
  imageId: string;
  vSwitchId: string;
  securityGroupId: string;
  instanceName: string;
  clientToken: string;
  systemDisk: { category: string; size: number };
  internetMaxBandwidthOut: number;
  internetChargeType?: string;
  privateIpAddress?: string;
  confidentialComputingMode?: 'TDX';
  userData?: string;
  tags: Tag[];
}

/** CPU instance families whose TDX must be switched on with SecurityOptions (g8i/c8i/r8i, g9i/c9i/r9i, ebm*8i). */
const TDX_CPU_FAMILY = /^ecs\.(ebm)?[gcr](8|9)i\./;
/** Heterogeneous confidential GPU types: TDX is built in and SecurityOptions must not be sent. */
const BUILTIN_TEE_FAMILY = /^ecs\.gn\d+[a-z]*-tee\./;

/** Whether RunInstances carries SecurityOptions.ConfidentialComputingMode=TDX for this spec. */
export function wantsTdxSecurityOption(spec: Pick<AlibabaInstanceSpec, 'instanceType' | 'confidentialComputingMode'>): boolean {
  switch (spec.confidentialComputingMode) {
    case 'None':
      return false;
    case 'TDX':
      return true;
    case 'Auto':
      return TDX_CPU_FAMILY.test(spec.instanceType) && !BUILTIN_TEE_FAMILY.test(spec.instanceType);
  }
}

const TOKEN_RE = /^[\x21-\x7e]{1,64}$/;
/** ECS user data limit: 32 KiB before base64. */
const MAX_USER_DATA_BYTES = 32 * 1024;

function invalid(field: string, why: string): ProviderError {
  return new ProviderError('InvalidSpec', 'InvalidParameter', `${field}: ${why}`);
}

function instanceName(namespace: string, name: string): string {
  // 2-128 chars, starting with a letter; k8s names already fit the allowed character set.
  return `cai-${namespace}-${name}`.slice(0, 128);
}

/** Validates a create request and builds the RunInstances parameters. Throws ProviderError('InvalidSpec'). */
export function buildRunInstancesParams(req: CreateInstanceRequest<AlibabaInstanceSpec>): RunInstancesParams {
  const { owner, token } = req;
  // Re-validate (and default) here: the provider must never send a half-formed spec to a paid API.
  const parsed = AlibabaInstanceSchema.safeParse(req.spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`spec.instance.alibaba.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'invalid');
  }
  const spec = parsed.data;
  if (!TOKEN_RE.test(token)) throw invalid('token', 'ClientToken must be 1-64 printable ASCII characters');
  if (!owner.clusterId) throw invalid('owner.clusterId', 'must not be empty');
  const tags = ownershipTags(owner, token);
  for (const [label, value] of Object.entries(req.labels)) {
    // Bare label names (`profile`) are namespaced so they cannot clash with other tools' tags.
    const key = label.includes('/') ? label : `${TAG_PREFIX}${label}`;
    if (tags.some((t) => t.key === key)) throw invalid(`labels.${label}`, 'collides with an ownership tag');
    if (key.length === 0 || key.length > 128 || /^(aliyun|acs:)/i.test(key) || /https?:\/\//.test(key)) {
      throw invalid(`labels.${label}`, 'tag keys are 1-128 characters and must not start with aliyun/acs: or contain http(s)://');
    }
    if (value.length > 128 || /^(aliyun|acs:)/i.test(value)) throw invalid(`labels.${label}`, 'tag values are at most 128 characters and must not start with aliyun/acs:');
    tags.push({ key, value });
  }
  if (tags.length > MAX_TAGS) throw invalid('labels', `ECS allows ${MAX_TAGS} tags; ${tags.length} requested`);
  for (const t of tags) if (t.value.length > 128) throw invalid(`tag ${t.key}`, 'value longer than 128 characters');

  let userData: string | undefined;
  if (spec.userData !== undefined) {
    const bytes = Buffer.from(spec.userData, 'utf8');
    if (bytes.length > MAX_USER_DATA_BYTES) throw invalid('userData', `${bytes.length} bytes exceeds the ECS limit of ${MAX_USER_DATA_BYTES}`);
    userData = bytes.toString('base64');
  }
  const params: RunInstancesParams = {
    regionId: spec.regionId,
    zoneId: spec.zoneId,
    instanceType: spec.instanceType,
    imageId: spec.imageId,
    vSwitchId: spec.vSwitchId,
    securityGroupId: spec.securityGroupId,
    instanceName: instanceName(owner.namespace, owner.name),
    clientToken: token,
    systemDisk: { category: spec.systemDisk.category, size: spec.systemDisk.sizeGiB },
    internetMaxBandwidthOut: spec.internetMaxBandwidthOut,
    tags,
  };
  if (spec.internetMaxBandwidthOut > 0) params.internetChargeType = 'PayByTraffic';
  if (spec.privateIpAddress) params.privateIpAddress = spec.privateIpAddress;
  if (wantsTdxSecurityOption(spec)) params.confidentialComputingMode = 'TDX';
  if (userData !== undefined) params.userData = userData;
  return params;
}
