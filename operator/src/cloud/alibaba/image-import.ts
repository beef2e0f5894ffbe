// Image import: an OSS object (the measured guest disk) -> ImportImage with UEFI boot and NVMe support
// (both required for TDX/gn8v-tee) -> poll DescribeImages until Available.
import { createHash } from 'node:crypto';
import { ProviderError } from '../provider.ts';
import type { EcsCaller } from './caller.ts';
import { Ecs } from './sdk.ts';

export interface ImportImageOptions {
  regionId: string;
  imageName: string;
  ossBucket: string;
  ossObject: string;
  format?: 'QCOW2' | 'RAW' | 'VHD' | 'VMDK';
  diskImageSizeGiB?: number;
  description?: string;
  /** Wait for Available (default true). */
  wait?: boolean;
  timeoutMs?: number;
  pollMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ImportImageResult {
  imageId: string;
  status: string;
  taskId?: string;
}

const IMAGE_NAME = /^[A-Za-z\u4e00-\u9fa5][\w.:-]{1,127}$/;
const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function invalid(field: string, why: string): ProviderError {
  return new ProviderError('InvalidSpec', 'InvalidParameter', `${field}: ${why}`);
}

export function formatOf(object: string): 'QCOW2' | 'RAW' | 'VHD' | 'VMDK' {
  const ext = object.toLowerCase().split('.').pop() ?? '';
  return ext === 'qcow2' ? 'QCOW2' : ext === 'vhd' ? 'VHD' : ext === 'vmdk' ? 'VMDK' : 'RAW';
}

export async function importImage(caller: EcsCaller, o: ImportImageOptions): Promise<ImportImageResult> {
  if (!IMAGE_NAME.test(o.imageName)) throw invalid('imageName', 'must be 2-128 characters, start with a letter, and use letters, digits, . _ - :');
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(o.ossBucket)) throw invalid('ossBucket', `"${o.ossBucket}" is not a valid OSS bucket name`);
  if (!o.ossObject || o.ossObject.startsWith('/')) throw invalid('ossObject', 'must be a non-empty object key without a leading /');
  const size = o.diskImageSizeGiB ?? 30;
  if (!Number.isInteger(size) || size < 5 || size > 2000) throw invalid('diskImageSizeGiB', `${size} is outside 5-2000 GiB`);
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? realSleep;
  const token = createHash('sha256').update(`${o.regionId}\0${o.imageName}\0${o.ossBucket}\0${o.ossObject}`).digest('hex').slice(0, 32);
  const resp = await caller.call('ImportImage', (c) =>
    c.importImage(
      new Ecs.ImportImageRequest({
        regionId: o.regionId,
        imageName: o.imageName,
        description: o.description ?? 'Confidential agent guest image',
        OSType: 'linux',
        platform: 'Aliyun',
        architecture: 'x86_64',
        bootMode: 'UEFI',
        features: new Ecs.ImportImageRequestFeatures({ nvmeSupport: 'supported' }),
        clientToken: token,
        diskDeviceMapping: [
          new Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: o.ossBucket, OSSObject: o.ossObject, format: o.format ?? formatOf(o.ossObject), diskImageSize: size }),
        ],
      }),
    ),
  );
  const imageId = resp.body?.imageId;
  if (!imageId) throw new ProviderError('Retryable', 'EmptyResponse', 'ImportImage returned no ImageId', resp.body?.requestId);
  const taskId = resp.body?.taskId;
  if (o.wait === false) return { imageId, status: 'Creating', ...(taskId ? { taskId } : {}) };
  const deadline = now() + (o.timeoutMs ?? 30 * 60_000);
  for (;;) {
    const d = await caller.call('DescribeImages', (c) =>
      c.describeImages(new Ecs.DescribeImagesRequest({ regionId: o.regionId, imageId, status: 'Creating,Waiting,Available,UnAvailable,CreateFailed' })),
    );
    const image = d.body?.images?.image?.find((i) => i.imageId === imageId);
    const status = image?.status ?? 'Unknown';
    if (status === 'Available') return { imageId, status, ...(taskId ? { taskId } : {}) };
    if (status === 'CreateFailed' || status === 'UnAvailable') {
      throw new ProviderError('InvalidSpec', 'ImageImportFailed', `import of oss://${o.ossBucket}/${o.ossObject} as ${imageId} ended ${status}`, d.body?.requestId);
    }
    if (now() >= deadline) throw new ProviderError('Retryable', 'WaitTimeout', `image ${imageId} still ${status} after the wait timeout`);
    await sleep(o.pollMs ?? 5_000);
  }
}
