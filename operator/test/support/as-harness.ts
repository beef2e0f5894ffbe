// An attestation service on loopback for tests and benchmarks: a generated CA keyset, an HTTPS (or HTTP)
// server over a fixed snapshot, the registry with the sample verifiers (plus any extra ones), a manual or
// real clock. The CA PEM is written to a temp file so a TNG process can pin it (SSL_CERT_FILE).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttestationPolicySpecSchema } from '../../src/api/attestation-policy.ts';
import { EarSigner } from '../../src/attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../../src/attestation/registry.ts';
import { anchorsPem, certDer, generateAsKeyset, initialCaState, issueServingCert, type AsKeyset } from '../../src/attestation/service/ca.ts';
import type { AsEvent } from '../../src/attestation/service/handlers.ts';
import { policyResolver, type AsAgentRecord, type AsPolicyRecord, type AsSnapshot } from '../../src/attestation/service/policy-source.ts';
import { createAsServer, type AsServer, type AsServerOptions } from '../../src/attestation/service/server.ts';
import { sampleEvidence } from '../../src/attestation/sample/verifier.ts';
import type { Verifier } from '../../src/attestation/verifier.ts';
import { jcsSha384 } from '../../src/protocol/runtime-data.ts';

export const policyRecord = (namespace: string, name: string, spec: Record<string, unknown>, ready = true): AsPolicyRecord => ({
  namespace,
  name,
  ready,
  spec: AttestationPolicySpecSchema.parse(spec),
  referenceValues: [],
});

export interface AsHarness {
  url: string;
  port: number;
  keyset: AsKeyset;
  caFile: string;
  events: AsEvent[];
  setSnapshot(s: AsSnapshot): void;
  close(): Promise<void>;
}

export async function startAsHarness(
  opts: {
    snapshot?: AsSnapshot;
    policies?: AsPolicyRecord[];
    agents?: AsAgentRecord[];
    tls?: boolean;
    keyset?: AsKeyset;
    /** Tests of a rogue AS: sign tokens with this keyset instead (TLS and /certificate stay on `keyset`). */
    signingKeyset?: AsKeyset;
    verifiers?: Verifier[];
    now?: () => number;
  } & Partial<
    Pick<AsServerOptions, 'rateLimit' | 'concurrency' | 'maxAttestationBodyBytes' | 'tokenTtlSeconds'>
  > = {},
): Promise<AsHarness> {
  const now = opts.now ?? Date.now;
  const keyset = opts.keyset ?? (await generateAsKeyset({ now: now() }));
  const state = initialCaState(keyset);
  let resolve = policyResolver(opts.snapshot ?? { policies: opts.policies ?? [], agents: opts.agents ?? [], configMaps: {} });
  const signWith = opts.signingKeyset ?? keyset;
  const signing = { signer: EarSigner.fromPem(signWith.signerKeyPem), x5c: [certDer(signWith.signerCertPem)] };
  const events: AsEvent[] = [];
  const tls = opts.tls === false ? undefined : await issueServingCert(keyset, ['127.0.0.1', 'localhost'], { now: now() });
  const server: AsServer = createAsServer({
    registry: defaultVerifierRegistry(opts.verifiers ?? []),
    resolve: (id) => resolve(id),
    signing: () => signing,
    anchorsPem: () => anchorsPem(state, now()),
    now,
    tokenTtlSeconds: opts.tokenTtlSeconds ?? 300,
    onEvent: (e) => events.push(e),
    ...(tls ? { tls } : {}),
    ...(opts.rateLimit ? { rateLimit: opts.rateLimit } : {}),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    ...(opts.maxAttestationBodyBytes ? { maxAttestationBodyBytes: opts.maxAttestationBodyBytes } : {}),
  });
  const { port, url } = await server.listen(0, '127.0.0.1');
  const dir = mkdtempSync(join(tmpdir(), 'cai-as-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, keyset.caCertPem);
  return {
    url,
    port,
    keyset,
    caFile,
    events,
    setSnapshot: (s) => (resolve = policyResolver(s)),
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The body TNG 2.12 POSTs to /attestation for one connection: evidence bound to SHA-384(JCS(runtime data)). */
export function tngShapedRequest(opts: {
  policyId: string;
  runtimeData?: Record<string, unknown>;
  tee?: string;
  /** Evidence for the report data (default: the sample TEE's). */
  evidence?: (reportData: Buffer) => unknown;
  initDataDigest?: Uint8Array;
}): { body: Buffer; runtimeData: Record<string, unknown> } {
  const runtimeData = opts.runtimeData ?? { 'pubkey-hash': randomBytes(32).toString('base64') };
  const reportData = jcsSha384(runtimeData);
  const evidence = opts.evidence ? opts.evidence(reportData) : sampleEvidence(reportData, '1', opts.initDataDigest);
  const body = {
    verification_requests: [
      { tee: opts.tee ?? 'sample', evidence: Buffer.from(JSON.stringify(evidence)).toString('base64url'), runtime_data: { structured: runtimeData }, init_data: null, runtime_data_hash_algorithm: 'sha384' },
    ],
    policy_ids: [opts.policyId],
  };
  return { body: Buffer.from(JSON.stringify(body)), runtimeData };
}
