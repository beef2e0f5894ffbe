// `cai verify tdx`: verifies a TDX quote (and optionally its CC event log) with Intel collateral from a
// directory or a PCCS, at a given time, and prints the verdict and claims. Exit 0 only when it verifies.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CliCommand, CliIO } from '../command.ts';
import { loadCollateralDir } from '../../attestation/tdx/collateral-dir.ts';
import { createPccsCollateralSources } from '../../attestation/tdx/pccs-source.ts';
import { collateralRequestFor, staticCollateralSource } from '../../attestation/tdx/collateral-source.ts';
import type { TdxCollateralSource } from '../../attestation/tdx/collateral-source.ts';
import { parseTdxQuote } from '../../attestation/tdx/quote.ts';
import { verifyTdxEvidence } from '../../attestation/tdx/evidence.ts';
import type { TdxEvidenceVerdict } from '../../attestation/tdx/evidence.ts';
import { TdxError } from '../../attestation/tdx/errors.ts';

const DEFAULT_PCCS = 'https://api.trustedservices.intel.com/tdx/certification/v4';

const usage = `Usage: cai verify tdx --quote FILE [--collateral DIR | --pccs URL] [--eventlog FILE] [--at TIME] [--json]

  --quote FILE       TDX quote (binary, hex or base64 text)
  --collateral DIR   collateral saved as PCS files: tcb_info.json, tcb_info_issuer_chain.pem, qe_identity.json,
                     pck_crl.der, pck_crl_issuer_chain.pem, root_ca_crl.der
  --pccs URL         PCCS / Intel PCS v4 base URL (default ${DEFAULT_PCCS})
  --eventlog FILE    CC event log (CCEL, TCG2 crypto-agile) to replay into RTMR0-3
  --at TIME          verification time, RFC 3339 (default: now)
  --json             print the verdict as JSON

Exit status: 0 verified, 1 rejected, 2 usage or input error.`;

/** Quote files come as raw bytes, or as hex/base64 text (as PCCS tools and KBS logs print them). */
function decodeQuoteFile(data: Buffer): Uint8Array {
  const text = data.toString('latin1').trim();
  if (text.length > 0 && /^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0) return new Uint8Array(Buffer.from(text, 'hex'));
  if (text.length > 0 && /^[A-Za-z0-9+/\s]+={0,2}$/.test(text) && !(data[0] === 4 || data[0] === 5)) return new Uint8Array(Buffer.from(text, 'base64'));
  return new Uint8Array(data);
}

function printHuman(io: CliIO, verdict: TdxEvidenceVerdict, warnings: string[]): void {
  if (!verdict.ok) {
    io.stdout(`REJECTED  ${verdict.failure.code}: ${verdict.failure.message}\n`);
  } else {
    io.stdout(`VERIFIED  TCB status ${String(verdict.claims.tcb_status)}\n`);
    for (const [k, v] of Object.entries(verdict.claims)) io.stdout(`  ${k.padEnd(28)} ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
  }
  for (const w of warnings) io.stdout(`warning: ${w}\n`);
}

export const command: CliCommand = {
  path: ['verify', 'tdx'],
  summary: 'Verify an Intel TDX quote (DCAP) and its CC event log',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    let values;
    try {
      values = parseArgs({
        args,
        options: {
          quote: { type: 'string' },
          collateral: { type: 'string' },
          pccs: { type: 'string' },
          eventlog: { type: 'string' },
          at: { type: 'string' },
          json: { type: 'boolean', default: false },
        },
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (err) {
      io.stderr(`cai verify tdx: ${err instanceof Error ? err.message : String(err)}\n\n${usage}\n`);
      return 2;
    }
    if (!values.quote) {
      io.stderr(`cai verify tdx: --quote is required\n\n${usage}\n`);
      return 2;
    }
    if (values.collateral && values.pccs) {
      io.stderr('cai verify tdx: use either --collateral or --pccs, not both\n');
      return 2;
    }
    const at = values.at ? new Date(values.at) : new Date();
    if (Number.isNaN(at.getTime())) {
      io.stderr(`cai verify tdx: --at "${values.at}" is not a time (use RFC 3339, e.g. 2025-07-01T00:00:00Z)\n`);
      return 2;
    }
    let quote: Uint8Array;
    let eventLog: Uint8Array | undefined;
    try {
      quote = decodeQuoteFile(await readFile(values.quote));
      if (values.eventlog) eventLog = new Uint8Array(await readFile(values.eventlog));
    } catch (err) {
      io.stderr(`cai verify tdx: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }

    let verdict: TdxEvidenceVerdict;
    const warnings: string[] = [];
    try {
      const source: TdxCollateralSource = values.collateral
        ? staticCollateralSource(await loadCollateralDir(values.collateral))
        : createPccsCollateralSources({ now: () => Date.now() })(values.pccs ?? DEFAULT_PCCS);
      const fetched = await source.get(collateralRequestFor(parseTdxQuote(quote), at));
      warnings.push(...fetched.warnings);
      verdict = verifyTdxEvidence({ quote, ...(eventLog ? { eventLog } : {}), collateral: fetched.collateral, at, requireEventLog: false });
    } catch (err) {
      const failure = err instanceof TdxError ? { code: err.code, message: err.message } : { code: 'CollateralUnavailable' as const, message: String(err) };
      verdict = { ok: false, failure };
    }
    if (verdict.ok) warnings.push(...verdict.warnings);

    if (values.json) {
      const out = verdict.ok
        ? {
            verified: true,
            at: at.toISOString(),
            claims: verdict.claims,
            warnings,
            events: verdict.replay?.events ?? null,
          }
        : { verified: false, at: at.toISOString(), failure: verdict.failure, warnings };
      io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      printHuman(io, verdict, warnings);
    }
    return verdict.ok ? 0 : 1;
  },
};
