import { describe, expect, it } from 'vitest';
import { checkAvailableResource, type AvailableResourceBody } from './preflight.ts';

const body = (value: string, status: string, statusCategory: string, zoneId = 'cn-beijing-l'): AvailableResourceBody => ({
  requestId: 'R-9',
  availableZones: {
    availableZone: [
      { zoneId, status: 'Available', statusCategory: 'WithStock', availableResources: { availableResource: [{ type: 'InstanceType', supportedResources: { supportedResource: [{ value, status, statusCategory }] } }] } },
    ],
  },
});

describe('checkAvailableResource', () => {
  it('passes when the type is offered with stock', () => {
    expect(() => checkAvailableResource(body('ecs.gn8v-tee.4xlarge', 'Available', 'WithStock'), 'cn-beijing-l', 'ecs.gn8v-tee.4xlarge')).not.toThrow();
  });

  it('is Capacity/OperationDenied.NoStock when sold out, with the request id', () => {
    for (const [status, cat] of [['SoldOut', 'WithoutStock'], ['Available', 'ClosedWithoutStock'], ['SoldOut', '']]) {
      expect(() => checkAvailableResource(body('t', status!, cat!), 'cn-beijing-l', 't')).toThrow(
        expect.objectContaining({ kind: 'Capacity', code: 'OperationDenied.NoStock', requestId: 'R-9' }),
      );
    }
  });

  it('is InvalidSpec/InvalidInstanceType.NotSupported when the zone or type is absent', () => {
    const notOffered = expect.objectContaining({ kind: 'InvalidSpec', code: 'InvalidInstanceType.NotSupported', requestId: 'R-9' });
    expect(() => checkAvailableResource(body('other', 'Available', 'WithStock'), 'cn-beijing-l', 't')).toThrow(notOffered);
    expect(() => checkAvailableResource(body('t', 'Available', 'WithStock', 'cn-beijing-i'), 'cn-beijing-l', 't')).toThrow(notOffered);
    expect(() => checkAvailableResource({}, 'cn-beijing-l', 't')).toThrow(expect.objectContaining({ code: 'InvalidInstanceType.NotSupported' }));
  });
});
