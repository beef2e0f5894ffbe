// The `local` InstanceProvider: talks HTTP to the local cloud (cloud-server.ts) exactly as a cloud
// provider talks to its API, including idempotent create by token and ownership-scoped listing.
import type { LocalInstanceSpec } from '../../api/confidential-agent.ts';
import { BodyTooLargeError, readTextBounded } from '../../net/bounded-body.ts';
import {
  ProviderError,
  type CreateInstanceRequest,
  type InstanceInfo,
  type InstanceOwner,
  type InstanceProvider,
} from '../provider.ts';
import type { CreateLocalInstanceBody, LocalInstanceRecord } from './types.ts';

/** What the agent controller passes for a local instance: the spec block plus what the guest serves. */
export interface LocalCreateSpec extends LocalInstanceSpec {
  workload: { model: string; port: number };
  guestApiPort: number;
  manifest: string[];
  initData?: string;
}

export interface LocalProviderOptions {
  /** Base URL of the local cloud API, e.g. http://127.0.0.1:7400 */
  url: string;
  /** Per request, including reading the whole reply (default 10 s). */
  timeoutMs?: number;
  /** Reply size cap (default LOCAL_CLOUD_RESPONSE_MAX_BYTES). */
  maxResponseBytes?: number;
}

/** An instance record is ~0.5 KiB: 4 MiB lists thousands of instances and bounds what a bad peer can make us hold. */
export const LOCAL_CLOUD_RESPONSE_MAX_BYTES = 4 * 1024 * 1024;

export function createLocalProvider(opts: LocalProviderOptions): InstanceProvider<LocalCreateSpec> {
  const base = opts.url.replace(/\/$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxResponseBytes ?? LOCAL_CLOUD_RESPONSE_MAX_BYTES;

  async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; json: T }> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
        redirect: 'manual',
        // Also bounds reading the body: a reply that never ends times out (or the reconcile is aborted).
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      if (signal?.aborted) throw cause; // the reconcile was aborted: not a cloud failure
      throw new ProviderError('Retryable', 'LocalCloudUnreachable', `local cloud at ${base} unreachable: ${String(cause)}`, undefined, { cause });
    }
    let text: string;
    try {
      text = await readTextBounded(res, maxBytes);
    } catch (cause) {
      if (cause instanceof BodyTooLargeError) throw new ProviderError('Retryable', 'LocalCloudBadResponse', `local cloud reply to ${method} exceeds ${maxBytes} bytes`, undefined, { cause });
      throw new ProviderError('Retryable', 'LocalCloudUnreachable', `local cloud reply to ${method} could not be read: ${cause instanceof Error ? cause.name : 'error'}`, undefined, { cause });
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ProviderError('Retryable', 'LocalCloudBadResponse', `local cloud answered ${res.status} with non-JSON`);
    }
    if (res.status >= 500) throw new ProviderError('Retryable', codeOf(json, 'InternalError'), messageOf(json, `HTTP ${res.status}`));
    if (res.status === 400) throw new ProviderError('InvalidSpec', codeOf(json, 'InvalidParameter'), messageOf(json, 'invalid request'));
    return { status: res.status, json: json as T };
  }

  const toInfo = (r: LocalInstanceRecord): InstanceInfo => ({
    id: r.id,
    state: r.state,
    address: r.address,
    ports: r.ports,
    createdAt: r.createdAt,
    ...(typeof r.startedAt === 'string' && r.startedAt.length <= 64 ? { startedAt: r.startedAt } : {}),
    owner: r.owner,
    token: r.token,
    ...(r.tee ? { tee: r.tee } : {}),
  });

  return {
    name: 'local',
    async create(req: CreateInstanceRequest<LocalCreateSpec>, signal?: AbortSignal): Promise<InstanceInfo> {
      const body: CreateLocalInstanceBody = {
        token: req.token,
        owner: req.owner,
        labels: req.labels,
        bootDelaySeconds: req.spec.bootDelaySeconds,
        workload: req.spec.workload,
        guestApiPort: req.spec.guestApiPort,
        manifest: req.spec.manifest,
        ...(req.spec.initData !== undefined ? { initData: req.spec.initData } : {}),
      };
      const { json } = await call<LocalInstanceRecord>('POST', '/v1/instances', body, signal);
      return toInfo(json);
    },
    async describe(id: string, signal?: AbortSignal): Promise<InstanceInfo | undefined> {
      const { status, json } = await call<LocalInstanceRecord>('GET', `/v1/instances/${encodeURIComponent(id)}`, undefined, signal);
      return status === 404 ? undefined : toInfo(json);
    },
    async findByToken(token: string, owner: InstanceOwner, signal?: AbortSignal): Promise<InstanceInfo | undefined> {
      const q = new URLSearchParams({ cluster: owner.clusterId, token });
      const { json } = await call<{ instances: LocalInstanceRecord[] }>('GET', `/v1/instances?${q}`, undefined, signal);
      const match = json.instances.find((r) => r.owner.uid === owner.uid);
      return match ? toInfo(match) : undefined;
    },
    async delete(id: string, signal?: AbortSignal): Promise<void> {
      await call('DELETE', `/v1/instances/${encodeURIComponent(id)}`, undefined, signal); // 404: already gone, which is success
    },
    async listOwned(clusterId: string): Promise<InstanceInfo[]> {
      const { json } = await call<{ instances: LocalInstanceRecord[] }>('GET', `/v1/instances?${new URLSearchParams({ cluster: clusterId })}`);
      return json.instances.map(toInfo);
    },
    async close(): Promise<void> {},
  };
}

function codeOf(json: unknown, fallback: string): string {
  const code = (json as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : fallback;
}
function messageOf(json: unknown, fallback: string): string {
  const message = (json as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : fallback;
}
