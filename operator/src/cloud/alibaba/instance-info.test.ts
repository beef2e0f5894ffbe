import { describe, expect, it } from 'vitest';
import { toInstanceInfo } from './instance-info.ts';

describe('ECS instance mapping', () => {
  it('reports StartTime as startedAt (a later start of the same instance id is a reboot)', () => {
    const info = toInstanceInfo({ instanceId: 'i-1', status: 'Running', creationTime: '2026-11-21T17:49Z', startTime: '2026-11-22T08:03Z' }, false);
    expect(info).toMatchObject({ id: 'i-1', state: 'Running', createdAt: '2026-11-21T17:49:00.000Z', startedAt: '2026-11-22T08:03:00.000Z' });
    expect(toInstanceInfo({ instanceId: 'i-2', status: 'Running', startTime: 'not a time' }, false)?.startedAt).toBeUndefined();
  });
});
