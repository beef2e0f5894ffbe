// The `sample` and `sampledevice` TEEs (no hardware, no signature): evidence `{"svn","report_data"}` whose
// base64-decoded report_data must equal the expected runtime-data hash byte for byte, as trustee's sample
// verifiers check. They prove only that the sender knew the nonce and key; they are for development.
// Like trustee's sample verifier, `sample` evidence may carry `init_data` (base64 of the init-data digest
// the "hardware" measured at launch, the MRCONFIGID stand-in); when an init-data digest is expected it
// must be present and equal.
import type { EvidenceToVerify, JsonValue, TeeType, VerificationResult, Verifier } from '../verifier.ts';

const STD_B64 = /^[A-Za-z0-9+/]*={0,2}$/;

type Parsed = { ok: true; svn: string; reportData: Buffer; reportDataText: string; initData?: Buffer } | { ok: false; code: 'MalformedEvidence'; message: string };

function parseSampleEvidence(tee: TeeType, evidence: JsonValue): Parsed {
  if (typeof evidence !== 'object' || evidence === null || Array.isArray(evidence)) {
    return { ok: false, code: 'MalformedEvidence', message: `${tee} evidence must be a JSON object {"svn","report_data"}` };
  }
  const svn = evidence['svn'];
  const rd = evidence['report_data'] ?? '';
  if (typeof svn !== 'string' || svn.length === 0 || svn.length > 64) {
    return { ok: false, code: 'MalformedEvidence', message: `${tee} evidence.svn must be a non-empty string of at most 64 characters` };
  }
  if (typeof rd !== 'string' || rd.length > 1024 || !STD_B64.test(rd) || rd.length % 4 === 1) {
    return { ok: false, code: 'MalformedEvidence', message: `${tee} evidence.report_data must be standard base64` };
  }
  // Optional: the init-data digest the (simulated) guest launched with, as a TDX guest has it in MRCONFIGID.
  const init = evidence['init_data'];
  if (init !== undefined && (typeof init !== 'string' || init.length === 0 || init.length > 128 || !STD_B64.test(init) || init.length % 4 !== 0)) {
    return { ok: false, code: 'MalformedEvidence', message: `${tee} evidence.init_data must be the standard base64 of a digest` };
  }
  return { ok: true, svn, reportData: Buffer.from(rd, 'base64'), reportDataText: rd, ...(init !== undefined ? { initData: Buffer.from(init, 'base64') } : {}) };
}

function checkBinding(tee: TeeType, parsed: Extract<Parsed, { ok: true }>, expected: Uint8Array): VerificationResult | undefined {
  if (!Buffer.from(expected).equals(parsed.reportData)) {
    return {
      ok: false,
      failure: { code: 'ReportDataMismatch', message: `${tee} report_data does not equal the SHA-384 of the runtime data (nonce and TEE key binding)` },
    };
  }
  return undefined;
}

/** Verifier for the `sample` CPU TEE. Claims mirror trustee's sample verifier. */
export class SampleVerifier implements Verifier {
  readonly tee = 'sample' as const;
  verify(input: EvidenceToVerify): Promise<VerificationResult> {
    const parsed = parseSampleEvidence(this.tee, input.evidence);
    if (!parsed.ok) return Promise.resolve({ ok: false, failure: { code: parsed.code, message: parsed.message } });
    const mismatch = checkBinding(this.tee, parsed, input.expectedReportData);
    if (mismatch) return Promise.resolve(mismatch);
    if (input.initDataDigest && !(parsed.initData && Buffer.from(input.initDataDigest).equals(parsed.initData))) {
      const what = parsed.initData ? `init_data ${parsed.initData.toString('hex').slice(0, 96)}` : 'no init_data';
      return Promise.resolve({ ok: false, failure: { code: 'InitDataMismatch', message: `sample evidence carries ${what}, not the digest of the expected init-data` } });
    }
    const claims: Record<string, JsonValue> = {
      svn: parsed.svn,
      report_data: parsed.reportDataText,
      launch_digest: 'abcde',
      platform_version: { major: 1, minor: 4 },
      debug: false,
    };
    const init = input.initDataDigest ?? parsed.initData;
    if (init) claims['init_data'] = Buffer.from(init).toString('base64');
    return Promise.resolve({
      ok: true,
      verified: { tee: this.tee, teeClass: 'cpu', claims, warnings: ['sample TEE evidence carries no hardware signature (development only)'] },
    });
  }
}

/** Verifier for the `sampledevice` additional (GPU-class) evidence. */
export class SampleDeviceVerifier implements Verifier {
  readonly tee = 'sampledevice' as const;
  verify(input: EvidenceToVerify): Promise<VerificationResult> {
    const parsed = parseSampleEvidence(this.tee, input.evidence);
    if (!parsed.ok) return Promise.resolve({ ok: false, failure: { code: parsed.code, message: parsed.message } });
    const mismatch = checkBinding(this.tee, parsed, input.expectedReportData);
    if (mismatch) return Promise.resolve(mismatch);
    return Promise.resolve({
      ok: true,
      verified: {
        tee: this.tee,
        teeClass: 'gpu',
        claims: { svn: parsed.svn, report_data: parsed.reportDataText },
        warnings: ['sampledevice evidence carries no hardware signature (development only)'],
      },
    });
  }
}

/** What the sample attester produces for a report data: `{"svn","report_data": std_b64(raw bytes)}`. */
export function sampleEvidence(reportData: Uint8Array, svn = '1', initDataDigest?: Uint8Array): { svn: string; report_data: string; init_data?: string } {
  return { svn, report_data: Buffer.from(reportData).toString('base64'), ...(initDataDigest ? { init_data: Buffer.from(initDataDigest).toString('base64') } : {}) };
}
