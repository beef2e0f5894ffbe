// `cai image import`: OSS object (the measured guest disk) -> ECS custom image with UEFI boot and NVMe
// support -> wait until Available. Credentials come from the Alibaba Cloud default chain (env,
// RRSA/OIDC, profile, ECS RAM role); there is no flag for keys on purpose.
import { parseArgs } from 'node:util';
import { createEcsCaller } from '../../cloud/alibaba/caller.ts';
import { importImage } from '../../cloud/alibaba/image-import.ts';
import { ProviderError } from '../../cloud/provider.ts';
import type { CliCommand } from '../command.ts';

const USAGE = `Usage: cai image import --bucket BUCKET --object KEY --name IMAGE_NAME [options]
  --bucket BUCKET        OSS bucket holding the disk image
  --object KEY           OSS object key (e.g. images/cai-openclaw-vllm-final-prod-202611211200.qcow2)
  --name IMAGE_NAME      name of the custom image to create
  --region REGION        region (default cn-beijing)
  --format FORMAT        QCOW2 | RAW | VHD | VMDK (default: from the object's extension)
  --disk-size GIB        system disk image size in GiB (default 30)
  --endpoint HOST[:PORT] ECS API endpoint (default ecs.<region>.aliyuncs.com; the simulator in dev)
  --protocol PROTO       https (default) or http
  --no-wait              return as soon as the import is accepted
  --timeout SECONDS      how long to wait for Available (default 1800)
  --poll SECONDS         DescribeImages interval while waiting (default 10)
Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, RRSA (ALIBABA_CLOUD_ROLE_ARN, ...), a profile, or the ECS RAM role.`;

const FORMATS = new Set(['QCOW2', 'RAW', 'VHD', 'VMDK']);

export const command: CliCommand = {
  path: ['image', 'import'],
  summary: 'import a guest disk image from OSS as an ECS image (UEFI, NVMe) and wait until Available',
  usage: USAGE,
  async run(args, io) {
    let v: Record<string, string | boolean | undefined>;
    try {
      v = parseArgs({
        args,
        strict: true,
        options: {
          bucket: { type: 'string' },
          object: { type: 'string' },
          name: { type: 'string' },
          region: { type: 'string', default: 'cn-beijing' },
          format: { type: 'string' },
          'disk-size': { type: 'string', default: '30' },
          endpoint: { type: 'string' },
          protocol: { type: 'string', default: 'https' },
          'no-wait': { type: 'boolean', default: false },
          timeout: { type: 'string', default: '1800' },
          poll: { type: 'string', default: '10' },
        },
      }).values;
    } catch (err) {
      io.stderr(`cai image import: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
      return 2;
    }
    const usage = (msg: string): number => {
      io.stderr(`cai image import: ${msg}\n`);
      return 2;
    };
    const bucket = v.bucket as string | undefined;
    const object = v.object as string | undefined;
    const name = v.name as string | undefined;
    if (!bucket || !object || !name) return usage('--bucket, --object and --name are required');
    const protocol = v.protocol as string;
    if (protocol !== 'http' && protocol !== 'https') return usage(`--protocol must be http or https, got "${protocol}"`);
    const format = (v.format as string | undefined)?.toUpperCase();
    if (format !== undefined && !FORMATS.has(format)) return usage(`--format must be one of QCOW2, RAW, VHD, VMDK, got "${format}"`);
    const diskSize = Number(v['disk-size']);
    if (!Number.isInteger(diskSize) || diskSize <= 0) return usage(`--disk-size must be a positive integer (GiB), got "${String(v['disk-size'])}"`);
    const timeoutS = Number(v.timeout);
    if (!Number.isFinite(timeoutS) || timeoutS <= 0) return usage(`--timeout must be a positive number of seconds, got "${String(v.timeout)}"`);
    const pollS = Number(v.poll);
    if (!Number.isFinite(pollS) || pollS <= 0) return usage(`--poll must be a positive number of seconds, got "${String(v.poll)}"`);
    const regionId = v.region as string;
    const endpoint = v.endpoint as string | undefined;
    const caller = createEcsCaller({ regionId, protocol, ...(endpoint ? { endpoint } : {}) });
    try {
      const result = await importImage(caller, {
        regionId,
        imageName: name,
        ossBucket: bucket,
        ossObject: object,
        diskImageSizeGiB: diskSize,
        wait: v['no-wait'] !== true,
        timeoutMs: timeoutS * 1000,
        pollMs: pollS * 1000,
        ...(format ? { format: format as 'QCOW2' | 'RAW' | 'VHD' | 'VMDK' } : {}),
      });
      io.stdout(`${JSON.stringify(result)}\n`);
      return 0;
    } catch (err) {
      if (err instanceof ProviderError) {
        io.stderr(`cai image import: ${err.code}: ${err.message}${err.requestId ? ` (request id ${err.requestId})` : ''}\n`);
        return 1;
      }
      throw err;
    }
  },
};
