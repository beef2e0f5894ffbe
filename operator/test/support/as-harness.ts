// An attestation service on loopback for tests and benchmarks: a generated CA keyset, an HTTPS (or HTTP)
// server over a fixed snapshot, the registry with the sample verifiers (plus any extra ones), a manual or
// real clock. The CA PEM is written to a temp file so a TNG process can pin it (SSL_CERT_FILE).
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
import type { Verifier } from '../../src/attestation/verifier.ts';

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
  opts: { snapshot?: AsSnapshot; policies?: AsPolicyRecord[]; agents?: AsAgentRecord[]; tls?: boolean; keyset?: AsKeyset; verifiers?: Verifier[]; now?: () => number } & Partial<
    Pick<AsServerOptions, 'rateLimit' | 'concurrency' | 'maxAttestationBodyBytes' | 'tokenTtlSeconds'>
  > = {},
): Promise<AsHarness> {
  const now = opts.now ?? Date.now;
  const keyset = opts.keyset ?? (await generateAsKeyset({ now: now() }));
  const state = initialCaState(keyset);
  let resolve = policyResolver(opts.snapshot ?? { policies: opts.policies ?? [], agents: opts.agents ?? [], configMaps: {} });
  const signing = { signer: EarSigner.fromPem(keyset.signerKeyPem), x5c: [certDer(keyset.signerCertPem)] };
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
