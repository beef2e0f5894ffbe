import { describe, expect, it } from 'vitest';
import { agent, phaseContext } from '../../../test/support/agent-fixtures.ts';
import { FakeInstanceProvider } from '../../../test/support/fake-provider.ts';
import { provisionPhase } from './provision.ts';

const setup = () => {
  const provider = new FakeInstanceProvider();
  return { provider, phase: provisionPhase({ providers: { local: provider }, clusterId: 'c1', manifestOf: () => [] }) };
};

describe('delete (provision phase finalize)', () => {
  it('deletes the instance and reports done only once it is gone', async () => {
    const { provider, phase } = setup();
    const created = await phase.reconcile(agent('a'), phaseContext());
    const a = agent('a', {}, { status: { instance: created.status!.instance! } });
    provider.setState('i-1', 'Running');
    const first = await phase.finalize!(a, phaseContext());
    expect(first).toMatchObject({ done: false, requeueAfterMs: 500 });
    expect(provider.calls).toContain('delete');
    expect(await phase.finalize!(a, phaseContext())).toEqual({ done: true });
  });

  it('finds an instance by token when status never recorded it', async () => {
    const { provider, phase } = setup();
    await phase.reconcile(agent('a'), phaseContext());
    expect((await phase.finalize!(agent('a'), phaseContext())).done).toBe(false);
    expect(provider.instances.get('i-1')?.state).toBe('Deleted');
  });

  it('waits (with a Warning) when the provider is gone but an instance was recorded; done when none was', async () => {
    const phase = provisionPhase({ providers: {}, clusterId: 'c1', manifestOf: () => [] });
    const stuck = await phase.finalize!(agent('a', {}, { status: { instance: { provider: 'local', id: 'i-9', state: 'Running' } } }), phaseContext());
    expect(stuck).toMatchObject({ done: false, events: [expect.objectContaining({ type: 'Warning', reason: 'ProviderNotConfigured' })] });
    expect(await phase.finalize!(agent('b'), phaseContext())).toEqual({ done: true });
  });
});
