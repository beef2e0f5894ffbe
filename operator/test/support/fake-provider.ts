// An in-memory InstanceProvider for phase unit tests: idempotent on the token like a real provider,
// with scripted state transitions and failures, and a log of the calls it received.
import type { CreateInstanceRequest, InstanceInfo, InstanceOwner, InstanceProvider, InstanceState, ProviderName } from '../../src/cloud/provider.ts';

export class FakeInstanceProvider implements InstanceProvider {
  readonly name: ProviderName;
  readonly calls: string[] = [];
  readonly instances = new Map<string, InstanceInfo & { token: string; owner: InstanceOwner }>();
  /** State a new instance starts in. */
  initialState: InstanceState = 'Running';
  /** Guest port -> reachable port of new instances (point 8006 at a simulated guest's API). */
  ports: Record<number, number> = { 8006: 18006 };
  /** Thrown by the next call (then cleared). */
  failNext: Error | undefined;
  #seq = 0;

  constructor(name: ProviderName = 'local') {
    this.name = name;
  }

  #step(call: string, signal?: AbortSignal): void {
    this.calls.push(call);
    signal?.throwIfAborted();
    const err = this.failNext;
    this.failNext = undefined;
    if (err) throw err;
  }

  /** The spec of every create call, in order. */
  readonly createSpecs: unknown[] = [];

  async create(req: CreateInstanceRequest, signal?: AbortSignal): Promise<InstanceInfo> {
    this.#step('create', signal);
    this.createSpecs.push(req.spec);
    const existing = [...this.instances.values()].find((i) => i.token === req.token);
    if (existing) return { ...existing };
    const id = `i-${++this.#seq}`;
    const info = { id, state: this.initialState, address: '127.0.0.1', ports: { ...this.ports }, token: req.token, owner: req.owner, createdAt: '2026-01-01T00:00:00Z' };
    this.instances.set(id, info);
    return { ...info };
  }

  async describe(id: string, signal?: AbortSignal): Promise<InstanceInfo | undefined> {
    this.#step('describe', signal);
    const i = this.instances.get(id);
    return i && i.state !== 'Deleted' ? { ...i } : undefined;
  }

  async findByToken(token: string, owner: InstanceOwner, signal?: AbortSignal): Promise<InstanceInfo | undefined> {
    this.#step('findByToken', signal);
    const i = [...this.instances.values()].find((x) => x.token === token && x.owner.uid === owner.uid && x.state !== 'Deleted');
    return i ? { ...i } : undefined;
  }

  async delete(id: string, signal?: AbortSignal): Promise<void> {
    this.#step('delete', signal);
    const i = this.instances.get(id);
    if (i) i.state = 'Deleted';
  }

  async listOwned(clusterId: string): Promise<InstanceInfo[]> {
    this.calls.push('listOwned');
    return [...this.instances.values()].filter((i) => i.owner.clusterId === clusterId && i.state !== 'Deleted');
  }

  async close(): Promise<void> {}

  setState(id: string, state: InstanceState): void {
    const i = this.instances.get(id);
    if (!i) throw new Error(`no instance ${id}`);
    i.state = state;
  }
}
