// Public surface of the NVIDIA GPU verifier: what the operator, KBS and CLI import.
export { createNvidiaVerifier, type NvidiaVerifierDeps } from './verifier.ts';
export {
  DEFAULT_RIM_SERVICE_URL,
  DirectoryRimSource,
  HttpRimSource,
  MapRimSource,
  PolicyRimSource,
  type HttpRimSourceOptions,
  type RimLookupContext,
  type RimSource,
} from './rim-source.ts';
export { DEFAULT_OCSP_URL, HttpOcspClient, type HttpOcspClientOptions, type OcspCheck, type OcspClient, type OcspQuery } from './ocsp-client.ts';
export type { OcspOutcome, OcspPolicy } from './ocsp-policy.ts';
export { VerificationCache } from './cache.ts';
export { NVIDIA_DEVICE_IDENTITY_ROOT_PEM, NVIDIA_RIM_ROOT_PEM, loadTrustAnchors, type NvidiaTrustAnchors } from './roots.ts';
export { NvidiaError, type NvidiaErrorCode } from './errors.ts';
export { appraiseGpu, appraiseGpus, type GpuAppraisal, type GpuAppraisalOptions } from './appraise.ts';
export { parseGpuEvidence, type EvidenceLayout, type GpuEvidenceItem } from './evidence.ts';
export { driverRimId, vbiosRimId } from './rim-id.ts';
