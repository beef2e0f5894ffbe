// InstanceProvider for Alibaba Cloud ECS through the real @alicloud/ecs20140526 SDK. Idempotent on the
// request token twice over: RunInstances carries it as ClientToken (ECS returns the same instance for a
// repeated token), and it is written as a tag, so after an operator restart or an expired token window
// a tag lookup still finds the instance before anything new is launched.
import type { Logger } from 'pino';
import type { AlibabaInstanceSpec } from '../../api/confidential-agent.ts';
import {
  ProviderError,
  type CreateInstanceRequest,
  type InstanceInfo,
  type InstanceOwner,
  type InstanceProvider,
} from '../provider.ts';
import { createEcsCaller, DEFAULT_RETRY, type CloudApiMetrics, type EcsCaller, type RetryPolicy } from './caller.ts';
import { isNotFoundCode } from './errors.ts';
import { toInstanceInfo, instanceTags, type EcsInstance } from './instance-info.ts';
import { checkAvailableResource } from './preflight.ts';
import { buildRunInstancesParams, type RunInstancesParams } from './run-request.ts';
import { defaultCredential, Ecs, type SdkCredential } from './sdk.ts';
import { clusterSelector, matchesSelector, TAG_CLIENT_TOKEN, TAG_UID, type Tag } from './tags.ts';
import { RefusalCache } from './refusal-cache.ts';
import { TokenBucket } from './token-bucket.ts';
import { DescribeBatcher } from './describe-batcher.ts';

/** ECS instance ids: `i-` and lower-case alphanumerics. */
const INSTANCE_ID = /^i-[0-9a-z]{1,64}$/;
/** How long concurrent describes wait for each other to share one DescribeInstances call (describe-batcher.ts). */
const DESCRIBE_BATCH_WINDOW_MS = 20;
export interface AlibabaProviderOptions {
  /** Written as a tag on every instance; GC only ever lists instances with this cluster id. */
  clusterId: string;
  /** `host[:port]` of the ECS API (the simulator in tests/dev); default `ecs.<region>.aliyuncs.com`. */
  endpoint?: string;
  protocol?: 'http' | 'https';
  /** Region for describe/delete/list when an instance's region is not known yet (default cn-beijing). */
  regionId?: string;
  /** Extra regions listOwned/describe search (instances created by this process are tracked anyway). */
  regions?: string[];
  /** Default: `new Credential()` (env, RRSA/OIDC, profile, ECS RAM role). Never from the CR. */
  credential?: SdkCredential;
  /** Token bucket rate for ALL requests of this provider (default 5/s, burst = rate). */
  requestsPerSecond?: number;
  retry?: Partial<RetryPolicy>;
  /**
   * How long a refused launch (no stock, quota, unsupported type, invalid parameter) is remembered for
   * an identical launch spec (default 60 s). Repeats within the window get the same error (same code and
   * request id) without an API call, so a controller re-reconciling on its own status write settles.
   */
  failureCacheMs?: number;
  /** Report the public IP as the address when there is one (default: private IP). */
  preferPublicAddress?: boolean;
  logger?: Logger;
  /** Requests, throttles and token-bucket waits (the operator passes its DomainMetrics). */
  metrics?: CloudApiMetrics;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface WaitOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The provider plus the ECS-specific operations the controller and CLI may use. */
export interface AlibabaProvider extends InstanceProvider<AlibabaInstanceSpec> {
  /** DescribeAvailableResource + RunInstances DryRun; throws Capacity/Quota/InvalidSpec/Auth ProviderErrors. */
  preflight(request: CreateInstanceRequest<AlibabaInstanceSpec>): Promise<void>;
  /** Polls describe with backoff until Running; throws ProviderError('NotFound') if it vanished. */
  waitForRunning(id: string, opts?: WaitOptions): Promise<InstanceInfo>;
  /** Polls describe until the instance is gone (delete confirmation). */
  waitForDeleted(id: string, opts?: WaitOptions): Promise<void>;
  /** The rate-limited, classified ECS caller for a region (used by the security-group and image helpers). */
  caller(regionId?: string): EcsCaller;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createAlibabaProvider(opts: AlibabaProviderOptions): AlibabaProvider {
  if (!opts.clusterId) throw new ProviderError('InvalidSpec', 'InvalidParameter', 'clusterId: must not be empty');
  const defaultRegion = opts.regionId ?? 'cn-beijing';
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? realSleep;
  const credential = opts.credential ?? defaultCredential();
  const bucket = new TokenBucket({ ratePerSecond: opts.requestsPerSecond ?? 5, now, sleep });
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
  const log = opts.logger?.child({ provider: 'alibaba' });
  const preferPublic = opts.preferPublicAddress ?? false;
  const callers = new Map<string, EcsCaller>();
  const regions = new Set<string>([defaultRegion, ...(opts.regions ?? [])]);
  const regionOf = new Map<string, string>();
  const ownSelector = clusterSelector(opts.clusterId);
  const refusals = new RefusalCache(opts.failureCacheMs ?? 60_000, now);

  function caller(regionId: string = defaultRegion): EcsCaller {
    let c = callers.get(regionId);
    if (!c) {
      c = createEcsCaller({
        regionId,
        credential,
        bucket,
        retry,
        sleep,
        ...(log ? { logger: log } : {}),
        ...(opts.metrics ? { metrics: opts.metrics } : {}),
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        ...(opts.protocol ? { protocol: opts.protocol } : {}),
      });
      callers.set(regionId, c);
    }
    return c;
  }

  const sdkTags = <T>(tags: readonly Tag[], make: (t: Tag) => T): T[] => tags.map(make);

  async function describeIn(regionId: string, ids: string[]): Promise<EcsInstance[]> {
    const resp = await caller(regionId).call('DescribeInstances', (c) =>
      c.describeInstances(new Ecs.DescribeInstancesRequest({ regionId, instanceIds: JSON.stringify(ids), maxResults: 100 })),
    );
    return (resp.body?.instances?.instance ?? []) as EcsInstance[];
  }

  async function listByTags(regionId: string, tags: readonly Tag[]): Promise<EcsInstance[]> {
    const out: EcsInstance[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const request = new Ecs.DescribeInstancesRequest({
        regionId,
        maxResults: 100,
        tag: sdkTags(tags, (t) => new Ecs.DescribeInstancesRequestTag({ key: t.key, value: t.value })),
        ...(nextToken ? { nextToken } : {}),
      });
      const resp = await caller(regionId).call('DescribeInstances', (c) => c.describeInstances(request));
      const batch = (resp.body?.instances?.instance ?? []) as EcsInstance[];
      // Defense in depth: never trust the server-side filter alone with what we may delete.
      out.push(...batch.filter((i) => matchesSelector(instanceTags(i), tags)));
      nextToken = resp.body?.nextToken || undefined;
      if (!nextToken || batch.length === 0) break;
    }
    return out;
  }

  const describes = new DescribeBatcher<EcsInstance>({ fetch: describeIn, idOf: (i) => i.instanceId, windowMs: DESCRIBE_BATCH_WINDOW_MS, maxIds: 100 });

  async function findRaw(id: string): Promise<{ inst: EcsInstance; regionId: string } | undefined> {
    // Ids come from agent status: one that is not an ECS id must not fail the batch it would share.
    if (!INSTANCE_ID.test(id)) return undefined;
    const known = regionOf.get(id);
    const order = known ? [known, ...[...regions].filter((r) => r !== known)] : [...regions];
    for (const regionId of order) {
      const inst = await describes.describe(regionId, id);
      if (inst) {
        regionOf.set(id, regionId);
        return { inst, regionId };
      }
    }
    return undefined;
  }

  function info(inst: EcsInstance): InstanceInfo | undefined {
    return toInstanceInfo(inst, preferPublic);
  }

  async function findByToken(token: string, owner: InstanceOwner, signal?: AbortSignal): Promise<InstanceInfo | undefined> {
    signal?.throwIfAborted();
    const selector = [...clusterSelector(owner.clusterId), { key: TAG_UID, value: owner.uid }, { key: TAG_CLIENT_TOKEN, value: token }];
    for (const regionId of regions) {
      const found = (await listByTags(regionId, selector)).map(info).filter((i): i is InstanceInfo => i !== undefined);
      const first = found.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''))[0];
      if (found.length > 1) log?.error({ token, ids: found.map((f) => f.id) }, 'more than one instance carries one client token');
      if (first) {
        regionOf.set(first.id, regionId);
        return first;
      }
    }
    return undefined;
  }

  function runRequest(p: RunInstancesParams, dryRun: boolean): InstanceType<typeof Ecs.RunInstancesRequest> {
    return new Ecs.RunInstancesRequest({
      regionId: p.regionId,
      zoneId: p.zoneId,
      instanceType: p.instanceType,
      imageId: p.imageId,
      vSwitchId: p.vSwitchId,
      securityGroupId: p.securityGroupId,
      instanceName: p.instanceName,
      instanceChargeType: 'PostPaid',
      amount: 1,
      systemDisk: new Ecs.RunInstancesRequestSystemDisk({ category: p.systemDisk.category, size: String(p.systemDisk.size) }),
      internetMaxBandwidthOut: p.internetMaxBandwidthOut,
      tag: sdkTags(p.tags, (t) => new Ecs.RunInstancesRequestTag({ key: t.key, value: t.value })),
      ...(p.internetChargeType ? { internetChargeType: p.internetChargeType } : {}),
      ...(p.privateIpAddress ? { privateIpAddress: p.privateIpAddress } : {}),
      ...(p.confidentialComputingMode
        ? { securityOptions: new Ecs.RunInstancesRequestSecurityOptions({ confidentialComputingMode: p.confidentialComputingMode }) }
        : {}),
      ...(p.userData ? { userData: p.userData } : {}),
      // A dry run must not consume the idempotency token of the real launch.
      ...(dryRun ? { dryRun: true } : { clientToken: p.clientToken }),
    });
  }

  async function preflight(request: CreateInstanceRequest<AlibabaInstanceSpec>): Promise<void> {
    const p = buildRunInstancesParams(request);
    await refusals.guard(p, () => checkLaunch(p));
  }

  async function checkLaunch(p: RunInstancesParams): Promise<void> {
    const c = caller(p.regionId);
    const avail = await c.call('DescribeAvailableResource', (cl) =>
      cl.describeAvailableResource(
        new Ecs.DescribeAvailableResourceRequest({
          regionId: p.regionId,
          zoneId: p.zoneId,
          destinationResource: 'InstanceType',
          instanceType: p.instanceType,
          instanceChargeType: 'PostPaid',
        }),
      ),
    );
    checkAvailableResource(avail.body ?? {}, p.zoneId, p.instanceType);
    const dry = await c.attempt('RunInstances(DryRun)', (cl) => cl.runInstances(runRequest(p, true)), { expectCodes: ['DryRunOperation'] });
    if (dry.ok) return; // some endpoints answer a dry run with 200: treat as passed
    if (dry.error.code !== 'DryRunOperation') throw dry.error;
  }

  async function create(request: CreateInstanceRequest<AlibabaInstanceSpec>, signal?: AbortSignal): Promise<InstanceInfo> {
    const p = buildRunInstancesParams(request);
    regions.add(p.regionId);
    const existing = await findByToken(request.token, request.owner, signal);
    if (existing) return existing;
    await refusals.guard(p, () => checkLaunch(p));
    signal?.throwIfAborted(); // never launch a paid instance for a reconcile that was called off
    const resp = await refusals.guard(p, () => caller(p.regionId).call('RunInstances', (c) => c.runInstances(runRequest(p, false))));
    const ids: unknown = resp.body?.instanceIdSets?.instanceIdSet;
    const id = Array.isArray(ids) ? ids[0] : undefined;
    // A garbled body (an id of the wrong type or shape) is a lost response: the launch may have happened,
    // and the next create finds it by its client token.
    if (typeof id !== 'string' || !INSTANCE_ID.test(id)) throw new ProviderError('Retryable', 'EmptyResponse', `RunInstances returned no valid instance id (request id ${resp.body?.requestId ?? 'none'})`, resp.body?.requestId);
    regionOf.set(id, p.regionId);
    log?.info({ instanceId: id, namespace: request.owner.namespace, name: request.owner.name, requestId: resp.body?.requestId }, 'instance launched');
    const inst = (await describeIn(p.regionId, [id])).find((i) => i.instanceId === id);
    if (inst) return info(inst) ?? { id, state: 'Pending', zone: p.zoneId, owner: request.owner, token: request.token };
    // Not visible yet — describe is eventually consistent right after a launch — or the reply named an
    // instance that does not exist (cloud fuzz: a contradictory body). The instance carrying the client
    // token is authoritative; until one shows up, report Pending.
    const byToken = await findByToken(request.token, request.owner, signal);
    if (byToken && byToken.id !== id) log?.warn({ reported: id, instanceId: byToken.id }, 'RunInstances named another instance than the one carrying its client token; using the token\'s');
    return byToken ?? { id, state: 'Pending', zone: p.zoneId, owner: request.owner, token: request.token };
  }

  async function describe(id: string, signal?: AbortSignal): Promise<InstanceInfo | undefined> {
    signal?.throwIfAborted();
    const found = await findRaw(id);
    return found ? info(found.inst) : undefined;
  }

  async function del(id: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const found = await findRaw(id);
    if (!found) return;
    if (!matchesSelector(instanceTags(found.inst), ownSelector)) {
      throw new ProviderError('InvalidSpec', 'NotOwned', `refusing to delete ${id}: it does not carry this operator's ownership tags for cluster ${opts.clusterId}`);
    }
    // Stopping: a deletion (or stop) is already under way and ECS would refuse with IncorrectInstanceStatus;
    // the controller calls again and we act once it is Stopped or gone.
    if (found.inst.status === 'Stopping') return;
    const r = await caller(found.regionId).attempt(
      'DeleteInstance',
      (c) => c.deleteInstance(new Ecs.DeleteInstanceRequest({ instanceId: id, force: true, forceStop: true })),
      { expectCodes: ['InvalidInstanceId.NotFound', 'InvalidInstanceId.NotExist'] },
    );
    if (!r.ok && !isNotFoundCode(r.error.code)) throw r.error;
    log?.info({ instanceId: id }, 'instance deletion requested');
  }

  async function listOwned(clusterId: string): Promise<InstanceInfo[]> {
    const out: InstanceInfo[] = [];
    for (const regionId of regions) {
      for (const inst of await listByTags(regionId, clusterSelector(clusterId))) {
        const i = info(inst);
        if (i) {
          regionOf.set(i.id, regionId);
          out.push(i);
        }
      }
    }
    return out;
  }

  async function poll<T>(id: string, what: string, check: () => Promise<T | undefined>, w: WaitOptions = {}): Promise<T> {
    const deadline = now() + (w.timeoutMs ?? 15 * 60_000);
    for (let attempt = 0; ; attempt++) {
      w.signal?.throwIfAborted();
      const v = await check();
      if (v !== undefined) return v;
      if (now() >= deadline) throw new ProviderError('Retryable', 'WaitTimeout', `timed out waiting for ${id} to become ${what}`);
      await sleep(Math.min(15_000, 500 * 2 ** Math.min(attempt, 5)));
    }
  }

  return {
    name: 'alibaba',
    create,
    describe,
    findByToken,
    delete: del,
    listOwned,
    preflight,
    caller,
    waitForRunning: (id, w) =>
      poll(id, 'Running', async () => {
        const i = await describe(id);
        if (!i) throw new ProviderError('NotFound', 'InvalidInstanceId.NotFound', `instance ${id} disappeared while waiting for Running`);
        return i.state === 'Running' ? i : undefined;
      }, w),
    waitForDeleted: (id, w) => poll(id, 'deleted', async () => ((await describe(id)) ? undefined : true), w).then(() => undefined),
    close: async () => {
      callers.clear();
    },
  };
}
