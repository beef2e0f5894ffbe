// A Verifier whose implementation is imported on first use. The TDX and NVIDIA stacks (X.509, ASN.1,
// XMLDSig, collateral clients) cost ~40-50 MiB of RSS each; an operator that never sees their evidence
// (e.g. only local agents with the sample TEE) should not carry them.
import type { EvidenceToVerify, TeeType, VerificationResult, Verifier } from './verifier.ts';

export function lazyVerifier(tee: TeeType, load: () => Promise<Verifier>): Verifier {
  let loaded: Promise<Verifier> | undefined;
  return {
    tee,
    async verify(input: EvidenceToVerify): Promise<VerificationResult> {
      loaded ??= load().catch((err: unknown) => {
        loaded = undefined; // let the next attestation try again
        throw err;
      });
      const verifier = await loaded;
      return verifier.verify(input);
    },
  };
}
