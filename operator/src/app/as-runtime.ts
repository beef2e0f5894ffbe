// The attestation service as a unit that owns nothing of Kubernetes: the restful AS server, its verifiers
// and signing material, fed snapshots (policies, agents) and the CA state by its host. It runs in a worker
// thread of the operator (app/as-worker.ts), never on the reconcilers' event loop.
import { EarSigner } from '../attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../attestation/registry.ts';
import { advance, anchorsPem, certDer, issueServingCert, parseCaState, type AsCaState, type AsKeyset } from '../attestation/service/ca.ts';
import type { AsEvent, SigningMaterial } from '../attestation/service/handlers.ts';
import { EMPTY_AS_SNAPSHOT, policyResolver, type AsSnapshot, type PolicyResolver } from '../attestation/service/policy-source.ts';
import { createAsServer } from '../attestation/service/server.ts';
import { hardwareVerifiersWith, type EgressLists, type TrustAnchors } from './verifiers.ts';

export interface AsRuntimeOptions {
  host: string;
  port: number;
  /** URL gateways use (default derived from the listening address). */
  publicUrl?: string;
  /** SANs of the serving certificate (the Service DNS names, IPs). */
  tlsHosts: string[];
  /** JSON of the AsCaState (the Secret's state.json). */
  caStateJson: string;
  snapshot?: AsSnapshot;
  nvidiaRimDir?: string;
  trustAnchors?: TrustAnchors;
  egress?: EgressLists;
  tokenTtlSeconds?: number;
  rateLimit?: { perSecond: number; burst: number };
  concurrency?: { active: number; queued: number };
  now?: () => number;
  log(level: 'info' | 'warn' | 'error', obj: object, msg: string): void;
  onEvent?(e: AsEvent): void;
}

export interface AsRuntime {
  url: string;
  port: number;
  setSnapshot(s: AsSnapshot): void;
  setCaState(json: string): void;
  close(): Promise<void>;
}

function defaultPublicUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `https://${h}:${port}`;
}

export async function startAsRuntime(o: AsRuntimeOptions): Promise<AsRuntime> {
  const now = o.now ?? Date.now;
  let snapshot = o.snapshot ?? EMPTY_AS_SNAPSHOT;
  let resolve: PolicyResolver = policyResolver(snapshot);
  let state: AsCaState = parseCaState(o.caStateJson);
  // Signing material follows the active keyset (it changes when a rotation activates).
  let signing: { keyset: AsKeyset; material: SigningMaterial } | undefined;
  const signingFor = (): SigningMaterial => {
    const active = advance(state, now()).active;
    if (signing?.keyset !== active) signing = { keyset: active, material: { signer: EarSigner.fromPem(active.signerKeyPem), x5c: [certDer(active.signerCertPem)] } };
    return signing.material;
  };
  let servingFor = advance(state, now()).active;
  const tls = await issueServingCert(servingFor, o.tlsHosts, { now: now() });
  const hardware = hardwareVerifiersWith({ ...(o.nvidiaRimDir ? { nvidiaRimDir: o.nvidiaRimDir } : {}), ...(o.trustAnchors ? { trustAnchors: o.trustAnchors } : {}), ...(o.egress ? { egress: o.egress } : {}), configMap: (name) => snapshot.configMaps[name] });
  const server = createAsServer({
    registry: defaultVerifierRegistry(hardware.verifiers),
    resolve: (id) => resolve(id),
    signing: signingFor,
    anchorsPem: () => anchorsPem(state, now()),
    now,
    tokenTtlSeconds: o.tokenTtlSeconds ?? 300,
    tls,
    ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    logger: { info: (obj, msg) => o.log('info', obj, msg), warn: (obj, msg) => o.log('warn', obj, msg) },
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
  });
  const { port } = await server.listen(o.port, o.host);
  // A rotation that activates re-issues the serving certificate from the new CA (checked once a minute).
  const renewTls = async () => {
    const active = advance(state, now()).active;
    if (active === servingFor) return;
    servingFor = active;
    server.setTls(await issueServingCert(active, o.tlsHosts, { now: now() }));
    o.log('info', {}, 'attestation service: serving certificate re-issued by the new CA');
  };
  const timer = setInterval(() => void renewTls().catch((err: unknown) => o.log('error', { err: err instanceof Error ? err.message : 'error' }, 'attestation service: TLS renewal failed')), 60_000);
  timer.unref();
  return {
    url: o.publicUrl ?? defaultPublicUrl(o.host, port),
    port,
    setSnapshot(s) {
      snapshot = s;
      resolve = policyResolver(s);
    },
    setCaState(json) {
      try {
        state = parseCaState(json);
        void renewTls();
      } catch (err) {
        o.log('error', { err: err instanceof Error ? err.message : 'error' }, 'attestation service: CA state update ignored');
      }
    },
    async close() {
      clearInterval(timer);
      await server.close();
    },
  };
}
