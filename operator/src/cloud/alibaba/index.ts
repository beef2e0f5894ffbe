// Public surface of the Alibaba Cloud provider (the operator loads this module lazily).
export { createAlibabaProvider, type AlibabaProvider, type AlibabaProviderOptions, type WaitOptions } from './provider.ts';
export { classifyError, kindForCode, redact } from './errors.ts';
export { wantsTdxSecurityOption, buildRunInstancesParams } from './run-request.ts';
export { ensureSecurityGroup, type SecurityGroupOptions, type SecurityGroupResult } from './security-group.ts';
export { importImage, type ImportImageOptions, type ImportImageResult } from './image-import.ts';
export { TokenBucket } from './token-bucket.ts';
export * from './tags.ts';
export type { SdkCredential } from './sdk.ts';
