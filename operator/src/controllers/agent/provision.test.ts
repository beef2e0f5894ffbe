import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../cloud/provider.ts';
import { agent, phaseContext } from '../../../test/support/agent-fixtures.ts';
import { FakeInstanceProvider } from '../../../test/support/fake-provider.ts';
import { provisionPhase, SLOW_RETRY_MS } from './provision.ts';

const setup = (provider = new FakeInstanceProvider()) => ({ provider, phase: provisionPhase({ providers: { local: provider }, clusterId: 'c1', manifestOf: () => ['default/local-resources/x'] }) });

describe('provision phase', () => {
  it('creates one instance, reports it Running with its address, and hands the instance to later phases', async () => {
    const { provider, phase } = setup();
    const r = await phase.reconcile(agent('a'), phaseContext());
    expect(r.condition).toMatchObject({ status: 'True', reason: 'InstanceRunning' });
    expect(r.status?.instance).toMatchObject({ provider: 'local', id: 'i-1', state: 'Running' });
    expect(r.facts?.instance?.id).toBe('i-1');
    expect(r.events).toEqual([expect.objectContaining({ reason: 'InstanceCreated' })]);
    expect(provider.calls).toEqual(['findByToken', 'create']);
  });

  it('is idempotent: a repeat with the instance in status creates nothing and emits nothing', async () => {
    const { provider, phase } = setup();
    const first = await phase.reconcile(agent('a'), phaseContext());
    const again = await phase.reconcile(agent('a', {}, { status: { instance: first.status!.instance! } }), phaseContext());
    expect(again.events).toEqual([]);
    expect(provider.instances.size).toBe(1);
    expect(provider.calls.slice(2)).toEqual(['describe']);
  });

  it('adopts an instance created before status was written (found by token)', async () => {
    const { provider, phase } = setup();
    await phase.reconcile(agent('a'), phaseContext());
    const r = await phase.reconcile(agent('a'), phaseContext());
    expect(r.status?.instance?.id).toBe('i-1');
    expect(provider.instances.size).toBe(1);
  });

  it('polls while the instance starts and asks to persist the address first in KBS mode only', async () => {
    const { provider, phase } = setup();
    provider.initialState = 'Starting';
    const starting = await phase.reconcile(agent('a'), phaseContext());
    expect(starting.condition).toMatchObject({ status: 'False', reason: 'InstanceStarting' });
    expect(starting.requeueAfterMs).toBe(500);
    provider.setState('i-1', 'Running');
    expect((await phase.reconcile(agent('a'), phaseContext())).persistBeforeNext).toBe(false);
    provider.initialState = 'Running';
    expect((await phase.reconcile(agent('k', { delivery: { mode: 'KBS' } }), phaseContext())).persistBeforeNext).toBe(true);
  });

  it('turns a non-retryable provider refusal into a condition with a slow retry; a retryable one throws', async () => {
    const { provider, phase } = setup();
    provider.failNext = new ProviderError('Capacity', 'OperationDenied.NoStock', 'no stock in zone', 'req-1');
    const r = await phase.reconcile(agent('a'), phaseContext());
    expect(r.condition).toMatchObject({ status: 'False', reason: 'NoCapacity' });
    expect(r.condition.message).toContain('request id req-1');
    expect(r.requeueAfterMs).toBe(SLOW_RETRY_MS);
    provider.failNext = new ProviderError('Retryable', 'Throttling', 'slow down');
    await expect(phase.reconcile(agent('a'), phaseContext())).rejects.toThrow('slow down');
  });

  it('reports ProviderNotConfigured when the operator runs without the provider', async () => {
    const phase = provisionPhase({ providers: {}, clusterId: 'c1', manifestOf: () => [] });
    expect((await phase.reconcile(agent('a'), phaseContext())).condition).toMatchObject({ status: 'False', reason: 'ProviderNotConfigured' });
  });

  it('starts no cloud work once the reconcile is aborted', async () => {
    const { provider, phase } = setup();
    const abort = new AbortController();
    abort.abort(new Error('leadership lost'));
    await expect(phase.reconcile(agent('a'), { ...phaseContext(), signal: abort.signal })).rejects.toThrow('leadership lost');
    expect(provider.instances.size).toBe(0);
  });
});
