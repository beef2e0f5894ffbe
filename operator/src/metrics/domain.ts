// Domain events as metrics: what the verifiers, the release paths, the trust-material clients and the
// cloud providers report as it happens. Modules never import prom-client themselves; they receive this
// object (or one of its narrow views) and call a method. Every label value is bounded here.
import * as prom from 'prom-client';
import { boundedLabel, objectLabel } from './labels.ts';
import { METRIC } from './names.ts';

// Verification spans sub-millisecond (sample) to seconds (a cold TDX chain with CRLs, 8 GPUs with OCSP).
const VERIFY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const RATE_WAIT_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const FMSPC = /^[0-9A-Fa-f]{12}$/;

export type AttestationResult = 'pass' | 'fail';
export type ReleaseResult = 'delivered' | 'refused' | 'error';
export type VerifierHost = 'operator' | 'kbs';
export type CollateralKind = 'tcb_info' | 'qe_identity' | 'pck_crl' | 'root_ca_crl';
/** The EAR statuses a token can carry (ear.veraison status), initialised at 0 so rate() works from the start. */
const EAR_STATUSES = ['affirming', 'warning', 'contraindicated', 'none'] as const;
/** The attestation service's refusal codes (attestation/service/errors.ts), initialised at 0. */
const AS_REFUSALS = ['BodyTooLarge', 'MalformedRequest', 'InvalidPolicyId', 'UnsupportedPolicyCount', 'PolicyNotFound', 'PolicyNotReady', 'AgentNotFound', 'AgentPolicyMismatch', 'TeeNotAllowed', 'ChallengeInvalid', 'RateLimited', 'Busy', 'NotFound', 'MethodNotAllowed', 'InternalError'] as const;

export class DomainMetrics {
  readonly #attestations: prom.Counter<'tee' | 'result'>;
  readonly #failures: prom.Counter<'tee' | 'reason'>;
  readonly #verify: prom.Histogram<'verifier'>;
  readonly #releases: prom.Counter<'mode' | 'result'>;
  readonly #kbsRequests: prom.Counter<'endpoint' | 'code'>;
  readonly #kbsSessions: prom.Gauge;
  readonly #asTokens: prom.Counter<'status'>;
  readonly #asRefusals: prom.Counter<'code'>;
  readonly #asChallenges: prom.Counter;
  readonly #collateralNext: prom.Gauge<'fmspc' | 'kind'>;
  readonly #pccsSuccess: prom.Gauge<'host'>;
  readonly #stale: prom.Gauge<'host'>;
  readonly #rimExpiry: prom.Gauge<'kind'>;
  readonly #logCheck: prom.Gauge<'namespace' | 'name'>;
  readonly #logInconsistent: prom.Gauge<'namespace' | 'name'>;
  readonly #sealingCreated: prom.Gauge;
  readonly #sealingKeys: prom.Gauge;
  readonly #earCreated: prom.Gauge;
  readonly #cloudRequests: prom.Counter<'provider' | 'action' | 'code'>;
  readonly #cloudThrottles: prom.Counter<'provider' | 'action'>;
  readonly #cloudWait: prom.Histogram<'provider'>;

  constructor(registry: prom.Registry) {
    const registers = [registry];
    this.#attestations = new prom.Counter({ name: METRIC.attestations, help: 'Attestations appraised, by TEE type of the primary evidence and result.', labelNames: ['tee', 'result'], registers });
    this.#failures = new prom.Counter({ name: METRIC.attestationFailures, help: 'Failed attestations by TEE type and reason code (the codes of status and Events).', labelNames: ['tee', 'reason'], registers });
    this.#verify = new prom.Histogram({ name: METRIC.verificationDuration, help: 'Evidence verification time per verifier.', labelNames: ['verifier'], buckets: VERIFY_BUCKETS, registers });
    this.#releases = new prom.Counter({ name: METRIC.releases, help: 'Credential deliveries by mode and result.', labelNames: ['mode', 'result'], registers });
    this.#kbsRequests = new prom.Counter({ name: METRIC.kbsRequests, help: 'KBS requests by endpoint and HTTP status code.', labelNames: ['endpoint', 'code'], registers });
    this.#kbsSessions = new prom.Gauge({ name: METRIC.kbsSessions, help: 'KBS sessions currently held.', registers });
    this.#asTokens = new prom.Counter({ name: METRIC.asTokens, help: 'Attestation-service EAR tokens issued to TNG gateways and clients, by EAR status (only affirming lets a gateway through).', labelNames: ['status'], registers });
    this.#asRefusals = new prom.Counter({ name: METRIC.asRefusals, help: 'Attestation-service requests refused, by refusal code.', labelNames: ['code'], registers });
    this.#asChallenges = new prom.Counter({ name: METRIC.asChallenges, help: 'Attestation-service challenges issued for TNG OHTTP mode.', registers });
    for (const status of EAR_STATUSES) this.#asTokens.inc({ status }, 0);
    for (const code of AS_REFUSALS) this.#asRefusals.inc({ code }, 0);
    this.#collateralNext = new prom.Gauge({ name: METRIC.collateralNextUpdate, help: 'nextUpdate of the TDX collateral in use, per FMSPC and kind (Unix seconds).', labelNames: ['fmspc', 'kind'], registers });
    // `host`: which collateral cache — the operator's (challenge mode) or the KBS worker's (KBS mode); each has its own.
    this.#pccsSuccess = new prom.Gauge({ name: METRIC.pccsLastSuccess, help: 'Last successful PCCS fetch (Unix seconds), per verifier host (operator, kbs).', labelNames: ['host'], registers });
    this.#stale = new prom.Gauge({ name: METRIC.collateralServingStale, help: '1 while cached TDX collateral is served because the PCCS is unreachable, per verifier host (operator, kbs).', labelNames: ['host'], registers });
    this.#rimExpiry = new prom.Gauge({ name: METRIC.rimCertExpiry, help: 'NVIDIA trust-material freshness (Unix seconds): earliest signing-chain expiry of the cached RIMs (kind=rim_signing), earliest validUntil of the cached OCSP answers (kind=ocsp).', labelNames: ['kind'], registers });
    this.#logCheck = new prom.Gauge({ name: METRIC.logConsistencyCheck, help: 'Last successful transparency-log consistency check per AttestationPolicy (Unix seconds).', labelNames: ['namespace', 'name'], registers });
    this.#logInconsistent = new prom.Gauge({ name: METRIC.logInconsistent, help: '1 when the transparency log a policy follows failed a consistency proof (a fork or a rewrite).', labelNames: ['namespace', 'name'], registers });
    this.#sealingCreated = new prom.Gauge({ name: METRIC.sealingKeyCreated, help: 'Creation time of the current sealing key (Unix seconds).', registers });
    this.#sealingKeys = new prom.Gauge({ name: METRIC.sealingKeys, help: 'Sealing keys in the keyring (current + retired, still able to unseal).', registers });
    this.#earCreated = new prom.Gauge({ name: METRIC.earKeyCreated, help: 'Creation time of the EAR signing key (Unix seconds).', registers });
    this.#cloudRequests = new prom.Counter({ name: METRIC.cloudRequests, help: 'Cloud API requests by provider, action and result code (OK or the provider\'s error code).', labelNames: ['provider', 'action', 'code'], registers });
    this.#cloudThrottles = new prom.Counter({ name: METRIC.cloudThrottles, help: 'Cloud API requests refused for throttling.', labelNames: ['provider', 'action'], registers });
    this.#cloudWait = new prom.Histogram({ name: METRIC.cloudRateLimitWait, help: 'Time requests waited for the client-side token bucket.', labelNames: ['provider'], buckets: RATE_WAIT_BUCKETS, registers });
    this.#stale.set({ host: 'operator' }, 0);
  }

  attestation(tee: string, result: AttestationResult, reason?: string): void {
    const t = boundedLabel(tee);
    this.#attestations.inc({ tee: t, result });
    if (result === 'fail') this.#failures.inc({ tee: t, reason: boundedLabel(reason, 'Unknown') });
  }
  verification(verifier: string, seconds: number): void {
    this.#verify.observe({ verifier: boundedLabel(verifier) }, seconds);
  }
  release(mode: 'Challenge' | 'KBS', result: ReleaseResult, count = 1): void {
    this.#releases.inc({ mode, result }, count);
  }
  kbsRequest(endpoint: 'auth' | 'attest' | 'resource' | 'other', code: number): void {
    this.#kbsRequests.inc({ endpoint, code: String(Math.trunc(code) >= 100 && code < 600 ? Math.trunc(code) : 0) });
  }
  kbsSessions(n: number): void {
    this.#kbsSessions.set(n);
  }
  asToken(status: string): void {
    this.#asTokens.inc({ status: (EAR_STATUSES as readonly string[]).includes(status) ? status : 'none' });
  }
  asRefusal(code: string): void {
    this.#asRefusals.inc({ code: (AS_REFUSALS as readonly string[]).includes(code) ? code : 'Other' });
  }
  asChallenge(): void {
    this.#asChallenges.inc();
  }
  collateral(fmspc: string, kind: CollateralKind, nextUpdate: Date): void {
    if (!FMSPC.test(fmspc)) return;
    this.#collateralNext.set({ fmspc: fmspc.toUpperCase(), kind }, nextUpdate.getTime() / 1000);
  }
  pccsFetched(at: Date, host: VerifierHost = 'operator'): void {
    this.#pccsSuccess.set({ host: host === 'kbs' ? 'kbs' : 'operator' }, at.getTime() / 1000);
  }
  servingStale(stale: boolean, host: VerifierHost = 'operator'): void {
    this.#stale.set({ host: host === 'kbs' ? 'kbs' : 'operator' }, stale ? 1 : 0);
  }
  rimCertExpiry(kind: 'rim_signing' | 'ocsp', notAfter: Date): void {
    this.#rimExpiry.set({ kind }, notAfter.getTime() / 1000);
  }
  logChecked(namespace: string, name: string, at: Date, consistent: boolean): void {
    const labels = { namespace: objectLabel(namespace), name: objectLabel(name) };
    if (consistent) this.#logCheck.set(labels, at.getTime() / 1000);
    this.#logInconsistent.set(labels, consistent ? 0 : 1);
  }
  forgetPolicy(namespace: string, name: string): void {
    const labels = { namespace: objectLabel(namespace), name: objectLabel(name) };
    this.#logCheck.remove(labels);
    this.#logInconsistent.remove(labels);
  }
  sealingKeyring(count: number, currentCreated: Date | undefined): void {
    this.#sealingKeys.set(count);
    if (currentCreated) this.#sealingCreated.set(currentCreated.getTime() / 1000);
  }
  earKey(created: Date): void {
    this.#earCreated.set(created.getTime() / 1000);
  }
  cloudRequest(provider: string, action: string, code: string): void {
    this.#cloudRequests.inc({ provider: boundedLabel(provider), action: boundedLabel(action), code: boundedLabel(code, 'Other') });
  }
  cloudThrottled(provider: string, action: string): void {
    this.#cloudThrottles.inc({ provider: boundedLabel(provider), action: boundedLabel(action) });
  }
  cloudRateLimitWait(provider: string, seconds: number): void {
    this.#cloudWait.observe({ provider: boundedLabel(provider) }, seconds);
  }
}
