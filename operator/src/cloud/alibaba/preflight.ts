// Pre-flight verdicts: DescribeAvailableResource says whether the zone sells the type and has stock;
// RunInstances with DryRun=true then lets ECS check everything else (quota, image, vSwitch, TDX
// allow-listing) without creating anything. Both turn into ProviderErrors carrying the ECS code and
// request id, so the controller can show a Provisioned=False condition instead of retrying hot.
import { ProviderError } from '../provider.ts';

/** The subset of DescribeAvailableResource's response we read (SDK camelCase model). */
export interface AvailableResourceBody {
  requestId?: string;
  availableZones?: {
    availableZone?: Array<{
      zoneId?: string;
      status?: string;
      statusCategory?: string;
      availableResources?: {
        availableResource?: Array<{
          type?: string;
          supportedResources?: { supportedResource?: Array<{ value?: string; status?: string; statusCategory?: string }> };
        }>;
      };
    }>;
  };
}

const NO_STOCK = new Set(['WithoutStock', 'ClosedWithoutStock']);

/** Pure: throws Capacity/InvalidSpec when the zone does not offer the type or has no stock. */
export function checkAvailableResource(body: AvailableResourceBody, zoneId: string, instanceType: string): void {
  const requestId = body.requestId;
  const zone = body.availableZones?.availableZone?.find((z) => z.zoneId === zoneId);
  const offered = zone?.availableResources?.availableResource
    ?.filter((r) => r.type === undefined || r.type === 'InstanceType')
    .flatMap((r) => r.supportedResources?.supportedResource ?? [])
    .find((r) => r.value === instanceType);
  if (!zone || !offered) {
    throw new ProviderError(
      'InvalidSpec',
      'InvalidInstanceType.NotSupported',
      `instance type ${instanceType} is not offered in zone ${zoneId} (DescribeAvailableResource)`,
      requestId,
    );
  }
  const category = offered.statusCategory ?? zone.statusCategory ?? '';
  const soldOut = offered.status === 'SoldOut' || zone.status === 'SoldOut' || NO_STOCK.has(category);
  if (soldOut) {
    throw new ProviderError(
      'Capacity',
      'OperationDenied.NoStock',
      `instance type ${instanceType} has no stock in zone ${zoneId} (${offered.status ?? 'SoldOut'}/${category || 'WithoutStock'}, DescribeAvailableResource)`,
      requestId,
    );
  }
}
