// Where the verifier gets collateral from: an injected source (PCCS client with cache, or a fixed bundle).
// The lookup key (FMSPC, PCK CA type) is read from the quote's PCK leaf before that chain is verified; the
// verification itself then checks the collateral against the verified chain, so a wrong key only fails.
import { TdxError } from './errors.ts';
import { toHex } from './bytes.ts';
import type { TdxCollateral } from './collateral.ts';
import type { TdxQuote } from './quote.ts';
import { parsePemChain } from './x509.ts';
import { parsePckExtension } from './pck-extension.ts';
import { remember } from './memo.ts';
import type { TdxVerificationMemo } from './memo.ts';

export interface TdxCollateralRequest {
  /** 12 lowercase hex characters. */
  fmspc: string;
  caType: 'platform' | 'processor';
  /** Verification time: a source must not hand out collateral it knows to be expired at this time. */
  at: Date;
}

export interface TdxCollateralResult {
  collateral: TdxCollateral;
  /** E.g. "collateral served from cache, PCCS unreachable since …". */
  warnings: string[];
}

export interface TdxCollateralSource {
  get(request: TdxCollateralRequest): Promise<TdxCollateralResult>;
}

export function collateralRequestFor(quote: TdxQuote, at: Date, memo?: TdxVerificationMemo): TdxCollateralRequest {
  const known = memo?.collateralLookups.get(quote.pckChainPem);
  if (known) return { ...known, at };
  const chain = parsePemChain(quote.pckChainPem, 'PCK certificate chain');
  const [leaf, ca] = chain;
  if (!leaf || !ca) throw new TdxError('CertificateChainInvalid', 'PCK certificate chain has fewer than two certificates');
  const caType = ca.subjectCn === 'Intel SGX PCK Processor CA' ? 'processor' : 'platform';
  const lookup = { fmspc: toHex(parsePckExtension(leaf).fmspc), caType } as const;
  if (memo) remember(memo, memo.collateralLookups, quote.pckChainPem, lookup);
  return { ...lookup, at };
}

/** A source that always returns one fixed collateral bundle (CLI `--collateral DIR`, tests). */
export function staticCollateralSource(collateral: TdxCollateral, warnings: string[] = []): TdxCollateralSource {
  return { get: () => Promise.resolve({ collateral, warnings }) };
}
