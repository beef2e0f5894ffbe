// Appraisal of GPU evidence: the pure report/RIM checks plus RIM lookup and OCSP through injected
// clients. One result per GPU; a list passes only when every GPU passes.
import { bytesEqual } from './bytes.ts';
import { VerificationCache } from './cache.ts';
import { NvidiaError, asNvidiaError, type NvidiaErrorCode } from './errors.ts';
import type { GpuEvidenceItem } from './evidence.ts';
import { compareMeasurements } from './measurements.ts';
import type { OcspClient } from './ocsp-client.ts';
import { checkOcsp, type OcspPolicy, type OcspOutcome } from './ocsp-policy.ts';
import { checkClaimedVersions, checkFwid, checkNonce, parseGpuReport, verifyReportSignature, type ParsedGpuReport } from './report.ts';
import { driverRimId, vbiosRimId } from './rim-id.ts';
import type { RimLookupContext, RimSource } from './rim-source.ts';
import type { VerifiedRim } from './rim.ts';
import type { NvidiaTrustAnchors } from './roots.ts';
import type { ParsedCert } from './x509-chain.ts';

export interface GpuAppraisalOptions {
  anchors: NvidiaTrustAnchors;
  rims: RimSource;
  rimContext?: RimLookupContext;
  ocsp?: OcspClient;
  ocspPolicy: OcspPolicy;
  ocspUrl?: string;
  /** Expected report data (the first 32 bytes are the SPDM nonce). Falls back to the SDK entry's nonce. */
  expectedNonce?: Uint8Array;
  at: Date;
  allowedDriverVersions?: readonly string[];
  allowedVbiosVersions?: readonly string[];
  cache?: VerificationCache;
}

export interface GpuFacts {
  position: number;
  uuid: string;
  arch: string;
  driverVersion?: string;
  vbiosVersion?: string;
  driverRimId?: string;
  vbiosRimId?: string;
}

export type GpuAppraisal =
  | (GpuFacts & { ok: true; matchedMeasurements: number; skippedMeasurements: number[]; ocsp: OcspOutcome; warnings: string[]; rimExpiresAt: Date })
  | (GpuFacts & { ok: false; code: NvidiaErrorCode; message: string; detail?: Readonly<Record<string, unknown>> });

async function loadRim(id: string, kind: string, o: GpuAppraisalOptions, cache: VerificationCache): Promise<VerifiedRim> {
  const xml = await o.rims.getRim(id, o.rimContext);
  if (xml === undefined) throw new NvidiaError('RimMissing', `no ${kind} RIM ${id} is available from the configured RIM source`);
  return cache.verifyRim(xml, o.anchors.rimRoot, o.at, `${kind} RIM ${id}`);
}

function checkAllowed(report: ParsedGpuReport, o: GpuAppraisalOptions): void {
  const { driverVersion, vbiosVersion } = report.info;
  if (o.allowedDriverVersions && !o.allowedDriverVersions.includes(driverVersion)) {
    throw new NvidiaError('DriverVersionNotAllowed', `driver ${driverVersion} is not in the policy's allowedDriverVersions`);
  }
  if (o.allowedVbiosVersions && !o.allowedVbiosVersions.some((v) => v.toUpperCase() === vbiosVersion)) {
    throw new NvidiaError('VbiosVersionNotAllowed', `VBIOS ${vbiosVersion} is not in the policy's allowedVbiosVersions`);
  }
}

async function appraiseOne(item: GpuEvidenceItem, o: GpuAppraisalOptions, cache: VerificationCache, facts: GpuFacts): Promise<GpuAppraisal> {
  const report = parseGpuReport(item, (pem) => cache.parseChain(pem));
  facts.driverVersion = report.info.driverVersion;
  facts.vbiosVersion = report.info.vbiosVersion;
  cache.verifyDeviceChain(report.chain, o.anchors.deviceRoot, o.at);
  verifyReportSignature(report);
  const nonce = o.expectedNonce ?? item.nonce;
  if (!nonce) throw new NvidiaError('NonceMismatch', 'no expected nonce was given, so the report freshness cannot be checked');
  checkNonce(report, nonce);
  checkFwid(report);
  checkClaimedVersions(report);
  checkAllowed(report, o);

  facts.driverRimId = driverRimId(item.arch, report.info.driverVersion);
  facts.vbiosRimId = vbiosRimId(report.info);
  // Fetch both concurrently, but report deterministically: driver first.
  const [d, v] = await Promise.allSettled([loadRim(facts.driverRimId, 'driver', o, cache), loadRim(facts.vbiosRimId, 'VBIOS', o, cache)]);
  if (d.status === 'rejected') throw d.reason;
  if (v.status === 'rejected') throw v.reason;
  const driver = d.value;
  const vbios = v.value;
  if (driver.rim.colloquialVersion !== report.info.driverVersion) {
    throw new NvidiaError('RimVersionMismatch', `driver RIM is for version ${driver.rim.colloquialVersion}, the report says ${report.info.driverVersion}`);
  }
  if (vbios.rim.colloquialVersion.toUpperCase() !== report.info.vbiosVersion) {
    throw new NvidiaError('RimVersionMismatch', `VBIOS RIM is for version ${vbios.rim.colloquialVersion}, the report says ${report.info.vbiosVersion}`);
  }
  const comparison = compareMeasurements(report.spdm.response.blocks, driver.rim, vbios.rim, report.info.nvdec0Status);
  if (comparison.mismatches.length > 0) {
    const indices = comparison.mismatches.map((m) => m.index);
    const list = comparison.mismatches.map((m) => `${m.source} ${m.index} (${m.reason})`).join(', ');
    throw new NvidiaError('RimMismatch', `runtime measurements differ from the RIM golden values at RIM indices ${list}`, { indices });
  }

  const deviceQueries = ocspTargets(report.chain, o.anchors.deviceRoot, false).map((t) => ({ ...t, root: o.anchors.deviceRoot, kind: 'device' as const }));
  const rimTargets = [...ocspTargets(driver.chain, o.anchors.rimRoot, true), ...ocspTargets(vbios.chain, o.anchors.rimRoot, true)];
  const unique = rimTargets.filter((t, i) => rimTargets.findIndex((u) => bytesEqual(u.cert.der, t.cert.der)) === i);
  const ocsp = await checkOcsp(
    [...deviceQueries, ...unique.map((t) => ({ ...t, root: o.anchors.rimRoot, kind: 'rim' as const }))],
    { client: o.ocsp, policy: o.ocspPolicy, at: o.at, ...(o.ocspUrl ? { url: o.ocspUrl } : {}) },
  );
  // When either RIM's signing chain expires, this GPU stops attesting until NVIDIA's renewed RIMs are in use.
  const rimExpiresAt = driver.window.notAfter < vbios.window.notAfter ? driver.window.notAfter : vbios.window.notAfter;
  return { ...facts, ok: true, matchedMeasurements: comparison.matched, skippedMeasurements: comparison.skipped, ocsp: ocsp.outcome, warnings: ocsp.warnings, rimExpiresAt };
}

/** (cert, issuer) pairs to ask about: device chains skip the leaf (ephemeral key) and the root, as NVIDIA does. */
function ocspTargets(chain: ParsedCert[], root: ParsedCert, includeLeaf: boolean): { cert: ParsedCert; issuer: ParsedCert }[] {
  const last = chain[chain.length - 1];
  const path = last && bytesEqual(last.der, root.der) ? chain : [...chain, root];
  const out: { cert: ParsedCert; issuer: ParsedCert }[] = [];
  for (let i = includeLeaf ? 0 : 1; i + 1 < path.length; i++) out.push({ cert: path[i] as ParsedCert, issuer: path[i + 1] as ParsedCert });
  return out;
}

export async function appraiseGpu(item: GpuEvidenceItem, o: GpuAppraisalOptions): Promise<GpuAppraisal> {
  const facts: GpuFacts = { position: item.position, uuid: item.uuid, arch: item.arch };
  try {
    return await appraiseOne(item, o, o.cache ?? new VerificationCache(), facts);
  } catch (err) {
    const e = asNvidiaError(err, 'EvidenceMalformed', `GPU ${item.position}`);
    return { ...facts, ok: false, code: e.code, message: e.message, ...(e.detail ? { detail: e.detail } : {}) };
  }
}

/** Appraises every GPU (concurrently). Two entries with the same device certificate are rejected. */
export async function appraiseGpus(items: GpuEvidenceItem[], o: GpuAppraisalOptions): Promise<{ ok: boolean; gpus: GpuAppraisal[] }> {
  const cache = o.cache ?? new VerificationCache();
  const gpus = await Promise.all(items.map((item) => appraiseGpu(item, { ...o, cache })));
  const leaves = items.map((item) => item.certChainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)?.[0] ?? '');
  const withDupes = gpus.map((g, i): GpuAppraisal => {
    const first = leaves.indexOf(leaves[i] ?? '');
    if (!g.ok || first === i) return g;
    return { ...g, ok: false, code: 'EvidenceMalformed', message: `GPU ${i} repeats the device certificate of GPU ${first}; each GPU must attest itself` };
  });
  return { ok: withDupes.every((g) => g.ok), gpus: withDupes };
}
