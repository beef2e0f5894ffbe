// The simulator's world: instances with time-driven lifecycles, the stock catalog, quota, security
// groups and images. Instance states are derived lazily from timestamps on every read (no timers), so
// the simulator is deterministic for a given clock.
import { randomBytes } from 'node:crypto';
import type { SimTag } from './params.ts';

export type SimInstanceStatus = 'Pending' | 'Starting' | 'Running' | 'Stopping' | 'Stopped';

export interface SimInstance {
  instanceId: string;
  regionId: string;
  zoneId: string;
  instanceType: string;
  imageId: string;
  vSwitchId: string;
  vpcId: string;
  securityGroupIds: string[];
  instanceName: string;
  privateIp: string;
  publicIp?: string;
  internetMaxBandwidthOut: number;
  systemDisk: { category: string; size: number };
  confidentialComputingMode?: string;
  userData?: string;
  clientToken?: string;
  tags: SimTag[];
  createdAt: number;
  status: SimInstanceStatus;
  /** When the current status began. */
  since: number;
  /** Set once deletion was requested: the instance disappears after it finishes stopping. */
  deleting: boolean;
  deletedAt?: number;
}

export interface Timings {
  pendingMs: number;
  startingMs: number;
  stoppingMs: number;
  imageImportMs: number;
}

export type StockStatus = 'WithStock' | 'WithoutStock';

export interface SimSecurityGroup {
  securityGroupId: string;
  regionId: string;
  vpcId: string;
  name: string;
  description: string;
  tags: SimTag[];
  createdAt: number;
  permissions: Array<{ ipProtocol: string; portRange: string; sourceCidrIp: string; policy: string; priority: string; description: string }>;
}

export interface SimImage {
  imageId: string;
  regionId: string;
  imageName: string;
  bootMode: string;
  architecture: string;
  osType: string;
  platform: string;
  nvmeSupport: string;
  ossBucket: string;
  ossObject: string;
  format: string;
  sizeGiB: number;
  tags: SimTag[];
  createdAt: number;
  /** Import finishes (Creating -> Available) at this time; `failed` makes it CreateFailed instead. */
  readyAt: number;
  failed: boolean;
}

/** zoneId -> instanceType -> stock. Types absent from a zone are "not offered there". */
export type Catalog = Record<string, Record<string, StockStatus>>;

export const DEFAULT_CATALOG: Catalog = {
  'cn-beijing-l': {
    'ecs.gn8v-tee.4xlarge': 'WithStock',
    'ecs.gn8v-tee.8xlarge': 'WithStock',
    'ecs.g8i.xlarge': 'WithStock',
    'ecs.g8i.2xlarge': 'WithStock',
  },
  'cn-beijing-i': { 'ecs.g8i.xlarge': 'WithStock', 'ecs.g9i.xlarge': 'WithStock', 'ecs.c9i.xlarge': 'WithStock' },
  'cn-beijing-h': { 'ecs.g7.xlarge': 'WithStock' },
};

/** Types whose TDX is switched on through SecurityOptions (the simulator's model of the TDX allow-list). */
export const TDX_SECURITY_OPTION_TYPES = /^ecs\.(ebm)?[gcr](8|9)i\./;

export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(10).toString('hex')}`;
}

export class SimState {
  readonly instances = new Map<string, SimInstance>();
  /** ClientToken -> fingerprint of the request parameters and the ids it produced. */
  readonly runTokens = new Map<string, { fingerprint: string; instanceIds: string[] }>();
  readonly sgTokens = new Map<string, { fingerprint: string; securityGroupId: string }>();
  readonly imageTokens = new Map<string, { fingerprint: string; imageId: string }>();
  readonly securityGroups = new Map<string, SimSecurityGroup>();
  readonly images = new Map<string, SimImage>();
  catalog: Catalog;
  /** OSS objects whose import ends in CreateFailed. */
  readonly failingImports = new Set<string>();
  /** Maximum live instances before RunInstances answers QuotaExceed.ElasticQuota. */
  maxInstances = Number.POSITIVE_INFINITY;
  timings: Timings;
  slowFactor = 1;
  private nextIp = 100;
  readonly now: () => number;

  constructor(now: () => number, timings: Timings, catalog: Catalog) {
    this.now = now;
    this.timings = timings;
    this.catalog = structuredClone(catalog);
  }

  // Real ECS hands out VPC (10.x) and public IPs. The simulator hands out loopback addresses instead
  // (127.10.0.0/16 "private", 127.47.0.0/16 "public"), so whatever the operator does with an instance
  // address (e.g. reaching the guest API on 8006) never leaves this machine; nothing listens there, so
  // such attempts fail fast with connection refused.
  allocatePrivateIp(): string {
    const n = this.nextIp++;
    return `127.10.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`;
  }

  allocatePublicIp(): string {
    return `127.47.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  }

  private dur(ms: number): number {
    return ms * this.slowFactor;
  }

  /** Advances one instance through its timeline up to now; removes it when deletion completed. */
  advance(inst: SimInstance): void {
    const t = this.now();
    for (;;) {
      const elapsed = t - inst.since;
      const next =
        inst.status === 'Pending' ? { after: this.dur(this.timings.pendingMs), to: 'Starting' as const }
        : inst.status === 'Starting' ? { after: this.dur(this.timings.startingMs), to: 'Running' as const }
        : inst.status === 'Stopping' ? { after: this.dur(this.timings.stoppingMs), to: 'Stopped' as const }
        : undefined;
      if (!next || elapsed < next.after) break;
      inst.since += next.after;
      inst.status = next.to;
    }
    if (inst.deleting && inst.status === 'Stopped' && inst.deletedAt === undefined) inst.deletedAt = t;
  }

  /** Live (not yet deleted) instances, advanced to now. */
  live(): SimInstance[] {
    const out: SimInstance[] = [];
    for (const inst of this.instances.values()) {
      this.advance(inst);
      if (inst.deletedAt === undefined) out.push(inst);
    }
    return out;
  }

  liveInstance(id: string): SimInstance | undefined {
    const inst = this.instances.get(id);
    if (!inst) return undefined;
    this.advance(inst);
    return inst.deletedAt === undefined ? inst : undefined;
  }

  setStatus(inst: SimInstance, status: SimInstanceStatus): void {
    inst.status = status;
    inst.since = this.now();
  }

  imageStatus(img: SimImage): { status: string; progress: string } {
    const t = this.now();
    if (t >= img.readyAt) return img.failed ? { status: 'CreateFailed', progress: '100%' } : { status: 'Available', progress: '100%' };
    const total = Math.max(1, img.readyAt - img.createdAt);
    return { status: 'Creating', progress: `${Math.floor(((t - img.createdAt) / total) * 100)}%` };
  }
}
