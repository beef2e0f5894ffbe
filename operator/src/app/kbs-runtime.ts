// The KBS as a unit that owns nothing of Kubernetes: the 0.4.0 server, its verifiers and EAR signer, fed
// snapshots of the release inputs and the sealing keyring by its host. It runs in a worker thread of the
// operator (app/kbs-worker.ts) or in its own process (`cai kbs`), never on the reconcilers' event loop.
import { EarSigner } from '../attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../attestation/registry.ts';
import { admitsFromLists, entitlementsFromLists, policyForFromLists } from '../release/kbs/decide-release.ts';
import { createKbsServer } from '../release/kbs/server.ts';
import { generateKbsTls, loadKbsTls, watchKbsTls, type KbsTlsFiles, type KbsTlsMaterial } from '../release/kbs/tls.ts';
import type { KbsEvent } from '../release/kbs/types.ts';
import { parseKeyring, type SealingKeyring } from '../release/sealing/keyring.ts';
import { EMPTY_SNAPSHOT, type KbsSnapshot } from './kbs-snapshot.ts';
import { decodeSessionKeys, type SerializedSessionKeys } from './kbs-session-keys.ts';
import { hardwareVerifiersWith, verificationObserver, type EgressLists, type TrustAnchors } from './verifiers.ts';
import type { MetricsRecorder } from '../metrics/forward.ts';

/** How the KBS serves: plain HTTP (explicit opt-out), TLS from files, or a generated development CA. */
export type KbsTlsMode =
  | { mode: 'http' }
  | ({ mode: 'files'; reloadIntervalMs?: number } & KbsTlsFiles)
  | { mode: 'generated'; hosts: string[] }
  /** Generated once by the host, so a restarted worker keeps the CA guests were already given. */
  | ({ mode: 'material' } & KbsTlsMaterial);

export interface KbsRuntimeOptions {
  host: string;
  port: number;
  /** URL guests use; default derived from the listening address. */
  publicUrl?: string;
  tls: KbsTlsMode;
  /** PKCS#8 PEM of the EAR signing key (the operator keeps it in a Secret). */
  signerPem: string;
  /** Serialized sealing keyring (release/sealing/keyring.ts serializeKeyring). */
  keyringJson: string;
  snapshot?: KbsSnapshot;
  /** Session-cookie keys shared by the replicas (the operator's Secret); default: this runtime's own. */
  sessionKeys?: SerializedSessionKeys;
  nvidiaRimDir?: string;
  /** Tests only: private-PKI roots (PEM strings, structured-clone safe). */
  trustAnchors?: TrustAnchors;
  /** The operator's PCCS / Rekor allow-lists (default: the public-good Rekor and Intel PCS). */
  egress?: EgressLists;
  maxAttestBodyBytes?: number;
  log(level: 'info' | 'warn' | 'error', obj: object, msg: string): void;
  onEvent(e: KbsEvent): void;
  /** New guest trust material after a certificate reload (bootstrap pushes carry it as kbs_cert). */
  onCertificate?(guestTrust: string): void;
  /** Requests, sessions, verification time and trust-material health (in a worker: a forwarding recorder). */
  metrics?: MetricsRecorder;
}

export interface KbsRuntime {
  url: string;
  port: number;
  /** PEM guests trust the KBS with, when it serves HTTPS. */
  guestTrust: string | undefined;
  setSnapshot(s: KbsSnapshot): void;
  setKeyring(json: string): void;
  setSessionKeys(keys: SerializedSessionKeys): void;
  close(): Promise<void>;
}

function defaultPublicUrl(host: string, port: number, https: boolean): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `${https ? 'https' : 'http'}://${h}:${port}`;
}

export async function startKbsRuntime(o: KbsRuntimeOptions): Promise<KbsRuntime> {
  let snapshot = o.snapshot ?? EMPTY_SNAPSHOT;
  let keyring: SealingKeyring = parseKeyring(o.keyringJson);
  const lists = { snapshot: () => snapshot };
  let tls: KbsTlsMaterial | undefined;
  if (o.tls.mode === 'files') tls = await loadKbsTls(o.tls);
  else if (o.tls.mode === 'generated') tls = await generateKbsTls(o.tls.hosts);
  else if (o.tls.mode === 'material') tls = { key: o.tls.key, cert: o.tls.cert, guestTrust: o.tls.guestTrust };
  const hardware = hardwareVerifiersWith({ ...(o.nvidiaRimDir ? { nvidiaRimDir: o.nvidiaRimDir } : {}), ...(o.trustAnchors ? { trustAnchors: o.trustAnchors } : {}), ...(o.egress ? { egress: o.egress } : {}), configMap: (name) => snapshot.configMaps[name], ...(o.metrics ? { metrics: o.metrics } : {}) });
  const server = createKbsServer({
    registry: defaultVerifierRegistry(hardware.verifiers, verificationObserver(o.metrics)),
    ...(o.metrics ? { observer: o.metrics } : {}),
    signer: EarSigner.fromPem(o.signerPem),
    policyFor: policyForFromLists(lists),
    admits: admitsFromLists(lists),
    entitlements: entitlementsFromLists({ ...lists, keyring: () => keyring }),
    ...(o.maxAttestBodyBytes ? { maxAttestBodyBytes: o.maxAttestBodyBytes } : {}),
    ...(o.sessionKeys ? { sessionKeys: decodeSessionKeys(o.sessionKeys) } : {}),
    ...(tls ? { tls: { key: tls.key, cert: tls.cert } } : {}),
    logger: { info: (obj, msg) => o.log('info', obj, msg), warn: (obj, msg) => o.log('warn', obj, msg) },
    onEvent: o.onEvent,
  });
  const { port } = await server.listen(o.port, o.host);
  let stopWatch = () => {};
  const rt: KbsRuntime = {
    url: o.publicUrl ?? defaultPublicUrl(o.host, port, tls !== undefined),
    port,
    guestTrust: tls?.guestTrust,
    setSnapshot: (s) => (snapshot = s),
    setKeyring: (json) => {
      try {
        keyring = parseKeyring(json);
      } catch (err) {
        o.log('error', { err: err instanceof Error ? err.message : 'error' }, 'kbs: keyring update ignored');
      }
    },
    setSessionKeys: (keys) => {
      try {
        server.setSessionKeys(decodeSessionKeys(keys));
      } catch (err) {
        o.log('error', { err: err instanceof Error ? err.message : 'error' }, 'kbs: session keys update ignored');
      }
    },
    async close() {
      stopWatch();
      await server.close();
    },
  };
  if (o.tls.mode === 'files' && tls) {
    stopWatch = watchKbsTls(o.tls, tls, {
      intervalMs: o.tls.reloadIntervalMs ?? 10_000,
      onChange: (m) => {
        server.setTls(m);
        rt.guestTrust = m.guestTrust;
        o.log('info', {}, 'kbs: TLS certificate reloaded; new connections use it');
        o.onCertificate?.(m.guestTrust);
      },
      onError: (e) => o.log('error', { code: e.code, err: e.message }, 'kbs: TLS reload failed; keeping the current certificate'),
    });
  }
  if (o.tls.mode === 'generated' || o.tls.mode === 'material') o.log('warn', {}, 'kbs: serving a generated development certificate; use --kbs-tls-cert/--kbs-tls-key in production');
  if (o.tls.mode === 'http') o.log('warn', {}, 'kbs: serving plain HTTP (--kbs-tls=false): resources and EAR tokens cross the network unauthenticated');
  return rt;
}
