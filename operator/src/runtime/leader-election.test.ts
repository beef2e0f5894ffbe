// Configuration checks only; the election algorithm itself runs against a real API server in
// operator/test/integration/runtime-leader-election.test.ts.
import type { CoordinationV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LeaderElector } from './leader-election.ts';

const api = {} as CoordinationV1Api; // never called by the constructor
const logger = pino({ level: 'silent' });
const make = (c: Partial<ConstructorParameters<typeof LeaderElector>[0]['config']>) =>
  new LeaderElector({ api, logger, config: { namespace: 'ns', name: 'lease', identity: 'me', ...c } });

describe('LeaderElector configuration', () => {
  it('defaults to controller-runtime timings (15 s / 10 s / 2 s)', () => {
    const e = make({});
    expect([e.leaseDurationMs, e.renewDeadlineMs, e.retryPeriodMs]).toEqual([15_000, 10_000, 2_000]);
    expect(e.isLeader()).toBe(false);
  });

  it('rejects timings client-go rejects, naming the values', () => {
    expect(() => make({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(/leaseDurationMs \(10000\) must be greater than renewDeadlineMs \(10000\)/);
    expect(() => make({ renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(/renewDeadlineMs \(2000\) must be greater than 1.2 x retryPeriodMs \(2000\)/);
    expect(() => make({ leaseDurationMs: 900, renewDeadlineMs: 500, retryPeriodMs: 100 })).toThrow(/at least 1000/);
  });

  it('requires an identity and a lease name', () => {
    expect(() => make({ identity: '' })).toThrow(/identity/);
    expect(() => make({ name: '' })).toThrow(/namespace and name/);
  });
});
