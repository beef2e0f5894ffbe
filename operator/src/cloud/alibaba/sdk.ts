// The one place that loads the Alibaba Cloud SDK packages. They are CommonJS with `exports.default`:
// Node's ESM loader hands back the exports object (class on `.default`), while bundler-style interop
// (vitest) may already unwrap it. `unwrap` accepts both.
import EcsModule, * as Ecs from '@alicloud/ecs20140526';
import * as OpenApi from '@alicloud/openapi-core';
import CredentialsModule from '@alicloud/credentials';

export { Ecs };
function unwrap<T>(mod: { default: T } | T): T {
  return typeof mod === 'function' ? (mod as T) : (mod as { default: T }).default;
}

export const EcsClient = unwrap<typeof EcsModule.default>(EcsModule);
export type EcsClient = InstanceType<typeof EcsModule.default>;
export const CredentialClass = unwrap<typeof CredentialsModule.default>(CredentialsModule);
/** `@alicloud/credentials` Credential (default chain: env, OIDC/RRSA, profiles, ECS RAM role, credentials URI). */
export type SdkCredential = InstanceType<typeof CredentialsModule.default>;

export interface ClientOptions {
  regionId: string;
  /** `host[:port]`; defaults to `ecs.<regionId>.aliyuncs.com`. */
  endpoint?: string;
  protocol?: 'http' | 'https';
  credential: SdkCredential;
  readTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** Builds an ECS client. The SDK makes exactly one attempt per call (no retryOptions): retries are ours. */
export function createEcsClient(opts: ClientOptions): EcsClient {
  const config = new OpenApi.$OpenApiUtil.Config({
    regionId: opts.regionId,
    endpoint: opts.endpoint ?? `ecs.${opts.regionId}.aliyuncs.com`,
    protocol: opts.protocol ?? 'https',
    credential: opts.credential,
    readTimeout: opts.readTimeoutMs ?? 15_000,
    connectTimeout: opts.connectTimeoutMs ?? 5_000,
  });
  return new EcsClient(config);
}

/** The default credential chain; nothing is ever read from the custom resource. */
export function defaultCredential(): SdkCredential {
  return new CredentialClass();
}
