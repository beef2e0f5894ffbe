// Accumulates one submodule's trust vector: a claim only ever moves to a worse tier, and every value set
// carries a stable code and a sentence saying why, so status and Events can explain each downgrade.
import { emptyVector, tierOf, worst, type EarStatus, type TrustClaim, type TrustVector } from './trust-vector.ts';

export interface AppraisalReason {
  submod: string;
  /** The trust claim affected; absent for notes that change nothing. */
  claim?: TrustClaim;
  value?: number;
  tier?: EarStatus;
  code: string;
  message: string;
}

export class VectorBuilder {
  readonly vector: TrustVector = emptyVector();
  readonly reasons: AppraisalReason[] = [];
  readonly submod: string;

  constructor(submod: string) {
    this.submod = submod;
  }

  set(claim: TrustClaim, value: number, code: string, message: string): void {
    const current = this.vector[claim];
    const keep = current !== 0 && worst(tierOf(current), tierOf(value)) === tierOf(current) && tierOf(current) !== tierOf(value);
    if (!keep) this.vector[claim] = value;
    this.reasons.push({ submod: this.submod, claim, value, tier: tierOf(value), code, message });
  }

  note(code: string, message: string): void {
    this.reasons.push({ submod: this.submod, code, message });
  }
}
