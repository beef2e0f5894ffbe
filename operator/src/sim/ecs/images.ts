// Image actions: ImportImage (OSS object -> custom image, Creating -> Available) and DescribeImages
// (which, like ECS, shows only Available images unless Status asks for more).
import { createHash } from 'node:crypto';
import { EcsApiError, invalidParam } from './api-error.ts';
import type { Params } from './params.ts';
import { newId, type SimImage, type SimState } from './state.ts';

type Body = Record<string, unknown>;

const FORMATS = new Set(['RAW', 'VHD', 'QCOW2', 'VMDK']);

export function importImage(s: SimState, p: Params): Body {
  const regionId = p.need('RegionId');
  const token = p.str('ClientToken');
  const fp = createHash('sha256').update(JSON.stringify(Object.entries(p.raw).filter(([k]) => k !== 'ClientToken').sort())).digest('hex');
  if (token) {
    const prior = s.imageTokens.get(token);
    if (prior && prior.fingerprint !== fp) throw new EcsApiError(400, 'IdempotentParameterMismatch', 'The specified parameter has changed while using an already used clientToken.');
    if (prior) return { ImageId: prior.imageId, TaskId: `t-${prior.imageId.slice(2)}`, RegionId: regionId };
  }
  const disks = p.records('DiskDeviceMapping', ['OSSBucket', 'OSSObject', 'Format', 'DiskImageSize', 'DiskImSize', 'Device']);
  const system = disks[0];
  if (!system?.OSSBucket || !system.OSSObject) throw new EcsApiError(400, 'MissingParameter', 'The input parameter "DiskDeviceMapping.1.OSSBucket/OSSObject" that is mandatory for processing this request is not supplied.');
  const format = (system.Format ?? 'RAW').toUpperCase();
  if (!FORMATS.has(format)) throw invalidParam('DiskDeviceMapping.1.Format', `"${system.Format ?? ''}" is not one of RAW, VHD, QCOW2, VMDK`);
  const bootMode = p.str('BootMode') ?? 'BIOS';
  if (bootMode !== 'BIOS' && bootMode !== 'UEFI') throw invalidParam('BootMode', `"${bootMode}" is not BIOS or UEFI`);
  const imageName = p.str('ImageName') ?? '';
  if (imageName && [...s.images.values()].some((i) => i.regionId === regionId && i.imageName === imageName)) {
    throw new EcsApiError(400, 'InvalidImageName.Duplicated', `The specified image name "${imageName}" already exists.`);
  }
  const img: SimImage = {
    imageId: newId('m'),
    regionId,
    imageName,
    bootMode,
    architecture: p.str('Architecture') ?? 'x86_64',
    osType: p.str('OSType') ?? 'linux',
    platform: p.str('Platform') ?? 'Others Linux',
    nvmeSupport: p.str('Features.NvmeSupport') ?? 'unsupported',
    ossBucket: system.OSSBucket,
    ossObject: system.OSSObject,
    format,
    sizeGiB: Number(system.DiskImageSize ?? system.DiskImSize ?? 40),
    tags: p.tags(),
    createdAt: s.now(),
    readyAt: s.now() + s.timings.imageImportMs * s.slowFactor,
    failed: s.failingImports.has(system.OSSObject),
  };
  s.images.set(img.imageId, img);
  if (token) s.imageTokens.set(token, { fingerprint: fp, imageId: img.imageId });
  return { ImageId: img.imageId, TaskId: `t-${img.imageId.slice(2)}`, RegionId: regionId };
}

function view(s: SimState, img: SimImage): Body {
  const { status, progress } = s.imageStatus(img);
  return {
    ImageId: img.imageId,
    ImageName: img.imageName,
    Status: status,
    Progress: progress,
    BootMode: img.bootMode,
    Architecture: img.architecture,
    OSType: img.osType,
    Platform: img.platform,
    ImageOwnerAlias: 'self',
    Size: img.sizeGiB,
    CreationTime: new Date(img.createdAt).toISOString().replace(/\.\d+Z$/, 'Z'),
    Features: { NvmeSupport: img.nvmeSupport },
    DiskDeviceMappings: { DiskDeviceMapping: [{ ImportOSSBucket: img.ossBucket, ImportOSSObject: img.ossObject, Format: img.format, Size: String(img.sizeGiB), Type: 'system' }] },
    Tags: { Tag: img.tags.map((t) => ({ TagKey: t.key, TagValue: t.value })) },
  };
}

export function describeImages(s: SimState, p: Params): Body {
  const regionId = p.need('RegionId');
  const ids = p.str('ImageId')?.split(',');
  const wanted = (p.str('Status') ?? 'Available').split(',');
  const all = wanted.includes('ALL');
  const list = [...s.images.values()]
    .filter((i) => i.regionId === regionId && (!ids || ids.includes(i.imageId)) && (!p.str('ImageName') || i.imageName === p.str('ImageName')))
    .filter((i) => all || wanted.includes(s.imageStatus(i).status));
  const pageNumber = p.int('PageNumber', 1) ?? 1;
  const pageSize = p.int('PageSize', 1, 100) ?? 10;
  return {
    RegionId: regionId,
    TotalCount: list.length,
    PageNumber: pageNumber,
    PageSize: pageSize,
    Images: { Image: list.slice((pageNumber - 1) * pageSize, pageNumber * pageSize).map((i) => view(s, i)) },
  };
}
