// The `nvidia` Verifier: KBS additional evidence {"device_evidence_list":[...]} → per-GPU appraisal →
// flat claims for the appraisal policy. Nonce binding per KBS 0.4.0: first 32 bytes of the expected report data.
import type { JsonValue, Verifier, VerificationResult, EvidenceToVerify } from '../verifier.ts';
import { appraiseGpus, type GpuAppraisal } from './appraise.ts';
import { VerificationCache } from './cache.ts';
import { NvidiaError } from './errors.ts';
import { parseGpuEvidence } from './evidence.ts';
import type { OcspClient } from './ocsp-client.ts';
import type { OcspOutcome } from './ocsp-policy.ts';
import type { RimSource } from './rim-source.ts';
import { loadTrustAnchors } from './roots.ts';

export interface NvidiaVerifierDeps {
  rims: RimSource;
  ocsp?: OcspClient;
  /** Override the pinned NVIDIA roots (tests, or a future NVIDIA root rollover). */
  roots?: { deviceRootPem?: string; rimRootPem?: string };
  /** Shared memo of chain/RIM verifications (one per process is enough). */
  cache?: VerificationCache;
}

function worstOcsp(outcomes: OcspOutcome[]): OcspOutcome {
  if (outcomes.includes('unavailable')) return 'unavailable';
  if (outcomes.includes('skipped')) return 'skipped';
  return 'good';
}

function failureOf(gpus: GpuAppraisal[]): VerificationResult {
  const failed = gpus.filter((g) => !g.ok);
  const first = failed[0];
  if (!first || first.ok) return { ok: false, failure: { code: 'EvidenceMalformed', message: 'GPU evidence failed' } };
  const others = failed.length > 1 ? ` (${failed.length} of ${gpus.length} GPUs failed)` : '';
  return { ok: false, failure: { code: first.code, message: `GPU ${first.position} (${first.uuid}): ${first.message}${others}` } };
}

export function createNvidiaVerifier(deps: NvidiaVerifierDeps): Verifier {
  const anchors = loadTrustAnchors(deps.roots);
  const cache = deps.cache ?? new VerificationCache();
  return {
    tee: 'nvidia',
    async verify(input: EvidenceToVerify): Promise<VerificationResult> {
      const gpu = input.policy.gpu;
      let items;
      try {
        items = parseGpuEvidence(input.evidence).items;
      } catch (err) {
        const e = err instanceof NvidiaError ? err : new NvidiaError('EvidenceMalformed', 'GPU evidence could not be parsed');
        return { ok: false, failure: { code: e.code, message: e.message } };
      }
      if (input.expectedReportData.length < 32) {
        return { ok: false, failure: { code: 'NonceMismatch', message: 'expected report data is shorter than the 32-byte SPDM nonce' } };
      }
      const { ok, gpus } = await appraiseGpus(items, {
        anchors,
        rims: deps.rims,
        rimContext: {
          ...(gpu?.rimServiceUrl ? { serviceUrl: gpu.rimServiceUrl } : {}),
          ...(gpu?.rimConfigMapRef ? { configMapName: gpu.rimConfigMapRef.name } : {}),
        },
        ...(deps.ocsp ? { ocsp: deps.ocsp } : {}),
        ocspPolicy: gpu?.ocsp ?? 'Prefer',
        ...(gpu?.ocspUrl ? { ocspUrl: gpu.ocspUrl } : {}),
        expectedNonce: input.expectedReportData.subarray(0, 32),
        at: input.at,
        ...(gpu?.allowedDriverVersions ? { allowedDriverVersions: gpu.allowedDriverVersions } : {}),
        ...(gpu?.allowedVbiosVersions ? { allowedVbiosVersions: gpu.allowedVbiosVersions } : {}),
        cache,
      });
      if (!ok) return failureOf(gpus);
      const passed = gpus.filter((g): g is Extract<GpuAppraisal, { ok: true }> => g.ok);
      const gpuClaims: JsonValue[] = passed.map((g) => ({
        uuid: g.uuid,
        arch: g.arch,
        driver_version: g.driverVersion ?? '',
        vbios_version: g.vbiosVersion ?? '',
        measurements: 'match',
        driver_rim_id: g.driverRimId ?? '',
        vbios_rim_id: g.vbiosRimId ?? '',
        rim_expires_at: g.rimExpiresAt.toISOString(),
      }));
      const uniq = (xs: (string | undefined)[]): string[] => [...new Set(xs.filter((x): x is string => !!x))].sort();
      return {
        ok: true,
        verified: {
          tee: 'nvidia',
          teeClass: 'gpu',
          claims: {
            gpu_count: passed.length,
            gpus: gpuClaims,
            driver_versions: uniq(passed.map((g) => g.driverVersion)),
            vbios_versions: uniq(passed.map((g) => g.vbiosVersion)),
            ocsp: worstOcsp(passed.map((g) => g.ocsp)),
          },
          warnings: [...new Set(passed.flatMap((g) => g.warnings.map((w) => `GPU ${g.position}: ${w}`)))],
        },
      };
    },
  };
}
