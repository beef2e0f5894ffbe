// `cai verify gpu`: verifies NVIDIA GPU confidential-computing evidence (KBS additional-evidence layout or
// the NVIDIA SDK evidence list) against RIMs from a directory or the RIM service, at a given time.
// Exit 0 only when every GPU verifies.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CliCommand, CliIO } from '../command.ts';
import { appraiseGpus, type GpuAppraisal } from '../../attestation/nvidia/appraise.ts';
import { NvidiaError } from '../../attestation/nvidia/errors.ts';
import { parseGpuEvidence } from '../../attestation/nvidia/evidence.ts';
import { DEFAULT_OCSP_URL, HttpOcspClient } from '../../attestation/nvidia/ocsp-client.ts';
import type { OcspPolicy } from '../../attestation/nvidia/ocsp-policy.ts';
import { DEFAULT_RIM_SERVICE_URL, DirectoryRimSource, HttpRimSource, type RimSource } from '../../attestation/nvidia/rim-source.ts';
import { loadTrustAnchors } from '../../attestation/nvidia/roots.ts';

const usage = `Usage: cai verify gpu --evidence FILE [--rim-dir DIR] [--at TIME] [--nonce HEX] [--json]

  --evidence FILE   GPU evidence JSON: {"device_evidence_list":[...]} (KBS additional evidence) or the
                    NVIDIA attestation SDK list [{arch, certificate, evidence, nonce, ...}]; '-' reads stdin
  --rim-dir DIR     offline RIMs named <RIM id>[.xml|.swidtag|.json] (default: the NVIDIA RIM service)
  --rim-url URL     RIM service base URL (default ${DEFAULT_RIM_SERVICE_URL})
  --at TIME         verification time, RFC 3339 (default: now)
  --nonce HEX       expected nonce (32 bytes; a longer KBS report-data digest is cut to its first 32 bytes);
                    required for the KBS layout, defaults to each SDK entry's nonce otherwise
  --ocsp MODE       require | prefer | skip (default: skip with --rim-dir, prefer otherwise)
  --ocsp-url URL    NVIDIA OCSP responder (default ${DEFAULT_OCSP_URL})
  --json            print the per-GPU verdicts as JSON

Exit status: 0 every GPU verified, 1 rejected, 2 usage or input error.`;

function usageError(io: CliIO, message: string): number {
  io.stderr(`cai verify gpu: ${message}\n\n${usage}\n`);
  return 2;
}

function describeGpu(g: GpuAppraisal): string {
  const head = `  GPU ${g.position}  ${g.uuid}  ${g.arch}  driver ${g.driverVersion ?? '?'}  VBIOS ${g.vbiosVersion ?? '?'}`;
  if (!g.ok) return `${head}\n    ${g.code}: ${g.message}`;
  const skipped = g.skippedMeasurements.length > 0 ? `, index ${g.skippedMeasurements.join(',')} skipped (NVDEC0 disabled)` : '';
  return `${head}\n    measurements match (${g.matchedMeasurements} compared${skipped}); OCSP ${g.ocsp}`;
}

function parseOcsp(value: string | undefined, offline: boolean): OcspPolicy | undefined {
  if (value === undefined) return offline ? 'Skip' : 'Prefer';
  const modes: Record<string, OcspPolicy> = { require: 'Require', prefer: 'Prefer', skip: 'Skip' };
  return modes[value.toLowerCase()];
}

export const command: CliCommand = {
  path: ['verify', 'gpu'],
  summary: 'Verify NVIDIA GPU CC evidence (SPDM report, device chain, RIMs, OCSP)',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    let values;
    try {
      values = parseArgs({
        args,
        options: {
          evidence: { type: 'string' },
          'rim-dir': { type: 'string' },
          'rim-url': { type: 'string' },
          at: { type: 'string' },
          nonce: { type: 'string' },
          ocsp: { type: 'string' },
          'ocsp-url': { type: 'string' },
          json: { type: 'boolean', default: false },
        },
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (err) {
      return usageError(io, err instanceof Error ? err.message : 'invalid arguments');
    }
    if (!values.evidence) return usageError(io, '--evidence is required');
    const at = values.at ? new Date(values.at) : new Date();
    if (Number.isNaN(at.getTime()) || (values.at !== undefined && !/^\d{4}-\d{2}-\d{2}T/.test(values.at))) {
      return usageError(io, `--at '${values.at}' is not an RFC 3339 time`);
    }
    let nonce: Uint8Array | undefined;
    if (values.nonce !== undefined) {
      if (!/^(?:[0-9a-fA-F]{2}){32,64}$/.test(values.nonce)) return usageError(io, '--nonce must be 32 to 64 bytes of hex');
      nonce = new Uint8Array(Buffer.from(values.nonce, 'hex')).subarray(0, 32);
    }
    const ocspPolicy = parseOcsp(values.ocsp, values['rim-dir'] !== undefined);
    if (!ocspPolicy) return usageError(io, `--ocsp must be require, prefer or skip`);

    let parsed;
    try {
      const text = values.evidence === '-' ? (await io.readStdin()).toString('utf8') : await readFile(values.evidence, 'utf8');
      parsed = parseGpuEvidence(JSON.parse(text) as unknown);
    } catch (err) {
      const why = err instanceof NvidiaError ? `${err.code}: ${err.message}` : err instanceof SyntaxError ? 'not valid JSON' : 'cannot be read';
      return usageError(io, `evidence ${values.evidence}: ${why}`);
    }
    if (!nonce && parsed.items.some((i) => !i.nonce)) {
      return usageError(io, '--nonce is required: the evidence does not carry the nonce it was collected with');
    }
    const rims: RimSource = values['rim-dir']
      ? new DirectoryRimSource(values['rim-dir'])
      : new HttpRimSource({ baseUrl: values['rim-url'] ?? DEFAULT_RIM_SERVICE_URL });
    const { ok, gpus } = await appraiseGpus(parsed.items, {
      anchors: loadTrustAnchors(),
      rims,
      ...(ocspPolicy !== 'Skip' ? { ocsp: new HttpOcspClient({ url: values['ocsp-url'] ?? DEFAULT_OCSP_URL }) } : {}),
      ocspPolicy,
      ...(nonce ? { expectedNonce: nonce } : {}),
      at,
    });
    if (values.json) {
      io.stdout(`${JSON.stringify({ verified: ok, layout: parsed.layout, at: at.toISOString(), gpus }, null, 2)}\n`);
    } else {
      const failed = gpus.filter((g) => !g.ok).length;
      io.stdout(ok ? `VERIFIED  ${gpus.length} of ${gpus.length} GPUs\n` : `REJECTED  ${failed} of ${gpus.length} GPUs failed\n`);
      for (const g of gpus) io.stdout(`${describeGpu(g)}\n`);
      for (const g of gpus) if (g.ok) for (const w of g.warnings) io.stdout(`warning: GPU ${g.position}: ${w}\n`);
    }
    return ok ? 0 : 1;
  },
};
