// Simulated TEE guest for the `local` provider. It serves the trustiflux API resource-injection endpoints
// (prepare/commit, as on port 8006 of the real image) with `sample` evidence bound to a fresh P-256 key per
// prepare session, decrypts what is committed and keeps it in memory only. Like the real image, when the
// bootstrap config arrives with {"mode":"kbs","kbs_url":...} it pulls its manifest from that KBS
// (auth → attest → GET, 401 → re-attest, retries); with {"mode":"challenge"} it waits for pushes.
import { createHash, randomBytes } from 'node:crypto';
import canonicalize from 'canonicalize';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decryptKbsJwe, JweError } from '../../release/jwe.ts';
import { teePubkeyFromEar, type EarClaims } from '../../attestation/policy/ear.ts';
import { generateTeeKeyPair, type TeeKeyPair, type TeePubKey } from '../../protocol/tee-key.ts';
import { RESOURCE_PATH_PATTERN } from '../../api/sealed-credential.ts';
import { compositeEvidence, sampleAttester, type GuestAttester } from './attester.ts';
import { KbsClient, KbsClientError, type Evidence } from './kbs-client.ts';
import { initDataDigestOf, initDataForPolicy, policyDigestFromInitData, SANDBOX_POLICY_RESOURCE } from '../../pep/attestation.ts';
import { parsePolicy, policyDigest, PolicyError } from '../../pep/policy.ts';
import { PepService } from '../../pep/server.ts';

import { BOOTSTRAP_RESOURCE } from '../../protocol/bootstrap.ts';
export { BOOTSTRAP_RESOURCE };

/** Public fingerprint of a TEE key (SHA-256 of its canonical JWK, 16 hex): names a key in logs, reveals nothing. */
export function teeKeyId(key: TeePubKey): string {
  return createHash('sha256').update(canonicalize(key) ?? '').digest('hex').slice(0, 16);
}

/**
 * What a guest decrypted is logged by path and by the id of the TEE key it decrypted under (never the value).
 * `kbs-attested`: the KBS issued this guest an EAR token; `teeKey` is the key the token names, `status` its
 * CPU appraisal status (what the guest was told, for the soak's key-binding check).
 */
export type GuestEvent =
  | { type: 'injected'; resourcePath: string; bytes: number; teeKey: string }
  | { type: 'fetched'; resourcePath: string; bytes: number; teeKey: string }
  | { type: 'kbs-attested'; teeKey: string; status: string }
  | { type: 'bootstrap'; mode: string }
  | { type: 'rejected'; resourcePath: string; reason: string }
  | { type: 'kbs-error'; resourcePath: string; code: string; message: string };

export interface GuestLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SimulatedGuestOptions {
  host: string;
  svn?: string;
  /** Resource paths the "image" fetches in KBS mode. */
  manifest: string[];
  logger?: GuestLogger;
  /**
   * The CoCo init-data TOML this guest launched with (what the local cloud got at creation): its digest is
   * reported in the sample evidence (`init_data`, the MRCONFIGID stand-in) and it is sent with KBS attestations.
   * When it names a sandbox policy digest (`cai-pep-policy.digest`), the guest's PEP loads only a policy
   * document with exactly that digest.
   */
  initData?: string;
  /** Shorthand for `initData: initDataForPolicy(digest)`. */
  sandboxPolicyDigest?: string;
  /**
   * Host directory the PEP's workspace lives in (a simulated guest shares the host's filesystem, so the
   * policy's `workspace.hostPath` is mapped here; the document and its digest are unchanged).
   */
  pepWorkspace?: string;
  /** KBS fetch retries per resource (the real image retries for up to 600 s). */
  kbsRetry?: { attempts?: number; delayMs?: number };
  /** Evidence source for both push (prepare) and pull (KBS); default the sample TEE with `svn`. */
  attester?: GuestAttester;
  /** KBS attestations only: evidence a hostile guest sends instead of its real evidence (tests). */
  kbsEvidence?: (nonce: string, teePubkey: TeePubKey) => Evidence;
}

/** The guest's PEP once a sandbox policy matching the launched init-data arrived (audit lines kept in memory). */
export interface GuestPep {
  digest: string;
  service: PepService;
  audit: string[];
}

export interface SimulatedGuest {
  apiPort: number;
  /** The PEP enforcing the delivered sandbox policy; undefined until one arrived (the real PEP then refuses every command). */
  pep(): GuestPep | undefined;
  close(): Promise<void>;
  /** Decrypted resources by path (in memory only). */
  resources(): Map<string, Buffer>;
  /** Emits 'event' with a GuestEvent; `history` keeps them all (never values). */
  events: EventEmitter & { history: GuestEvent[] };
  /** Resolves when the resource has been received (by push or pull). */
  waitForResource(resourcePath: string, timeoutMs?: number): Promise<Buffer>;
}

interface BootstrapFields {
  mode?: unknown;
  kbs_url?: unknown;
  trustee_url?: unknown;
  kbs_cert?: unknown;
  sandbox_policy?: unknown;
}

interface InjectionSession {
  resourcePath: string;
  key: TeeKeyPair;
  expiresAt: number;
}

const MAX_SESSIONS = 64;
const SESSION_TTL_MS = 300_000;
const MAX_BODY = 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
  });
}

const MAX_AUDIT_LINES = 1000;

export async function startSimulatedGuest(opts: SimulatedGuestOptions): Promise<SimulatedGuest> {
  const svn = opts.svn ?? '1';
  const initData = opts.initData ?? (opts.sandboxPolicyDigest ? initDataForPolicy(opts.sandboxPolicyDigest) : undefined);
  // The sandbox policy digest fixed at launch (undefined: the guest launched without one).
  const launchedPolicy = initData !== undefined ? policyDigestFromInitData(initData) : undefined;
  const attester = opts.attester ?? sampleAttester(svn, false, initData !== undefined ? initDataDigestOf(initData) : undefined);
  let pep: GuestPep | undefined;
  const store = new Map<string, Buffer>();
  const sessions = new Map<string, InjectionSession>();
  const events = Object.assign(new EventEmitter(), { history: [] as GuestEvent[] });
  let closed = false;
  let kbsRun: Promise<void> | undefined;
  const emit = (e: GuestEvent) => {
    events.history.push(e);
    if (e.type === 'rejected' || e.type === 'kbs-error') opts.logger?.warn(e, `guest ${e.type}`);
    else opts.logger?.info(e, `guest ${e.type}`);
    events.emit('event', e);
  };

  /** Stores a delivered resource; returns why it was rejected (nothing stored), or undefined. */
  const received = (resourcePath: string, value: Buffer, via: 'injected' | 'fetched', teeKey: TeePubKey): string | undefined => {
    const reject = (reason: string) => {
      emit({ type: 'rejected', resourcePath, reason });
      return reason;
    };
    let cfg: BootstrapFields | undefined;
    if (resourcePath === BOOTSTRAP_RESOURCE) {
      try {
        cfg = JSON.parse(value.toString('utf8')) as BootstrapFields;
      } catch {
        return reject('bootstrap config is not JSON');
      }
      if (typeof cfg !== 'object' || cfg === null) return reject('bootstrap config is not a JSON object');
      if (cfg.sandbox_policy !== undefined) {
        const problem = loadPolicy(cfg.sandbox_policy);
        if (problem) return reject(problem);
      }
    }
    if (resourcePath === SANDBOX_POLICY_RESOURCE) {
      const problem = loadPolicy(value.toString('utf8'));
      if (problem) return reject(problem);
    }
    store.set(resourcePath, value);
    emit({ type: via, resourcePath, bytes: value.length, teeKey: teeKeyId(teeKey) });
    if (cfg) onBootstrap(cfg);
    return undefined;
  };

  /** The guest's PEP takes a policy only if it is the one its attested init-data names (fail closed). */
  function loadPolicy(text: unknown): string | undefined {
    if (typeof text !== 'string') return 'sandbox_policy must be a string (the policy document)';
    const digest = policyDigest(text);
    if (launchedPolicy === undefined) return `sandbox policy ${digest} refused: this guest launched without a sandbox policy digest in its init-data, so no policy it loads would be attested`;
    if (digest !== launchedPolicy) return `sandbox policy digest ${digest} is not the launched ${launchedPolicy}`;
    if (pep?.digest === digest) return undefined;
    let parsed;
    try {
      parsed = parsePolicy(text);
    } catch (err) {
      return `sandbox policy ${digest} does not parse: ${err instanceof PolicyError ? err.message : 'invalid'}`;
    }
    const audit: string[] = [];
    const policy = opts.pepWorkspace ? { ...parsed.policy, workspace: { ...parsed.policy.workspace, hostPath: opts.pepWorkspace } } : parsed.policy;
    const service = new PepService({ policy, policyDigest: digest, socketPath: '' }, (line) => {
      if (audit.length < MAX_AUDIT_LINES) audit.push(line);
    });
    pep = { digest, service, audit };
    return undefined;
  }

  function onBootstrap(cfg: BootstrapFields): void {
    const mode = typeof cfg.mode === 'string' ? cfg.mode : 'unknown';
    emit({ type: 'bootstrap', mode });
    const url = mode === 'kbs' ? cfg.kbs_url : mode === 'trustee' ? cfg.trustee_url : undefined;
    if (typeof url === 'string' && /^https?:\/\//.test(url)) kbsRun = fetchManifest(url.replace(/\/+$/, ''), typeof cfg.kbs_cert === 'string' ? cfg.kbs_cert : undefined);
  }

  async function fetchManifest(baseUrl: string, ca: string | undefined): Promise<void> {
    const client = new KbsClient({
      baseUrl,
      attester,
      handshakeAttempts: 5,
      handshakeRetryDelayMs: opts.kbsRetry?.delayMs ?? 1000,
      ...(ca ? { ca } : {}),
      ...(initData !== undefined ? { initData } : {}),
      ...(opts.kbsEvidence ? { evidence: opts.kbsEvidence } : {}),
      onAttested: (token) => {
        const told = earKeyAndStatus(token);
        emit({ type: 'kbs-attested', teeKey: told.key ? teeKeyId(told.key) : 'none', status: told.status });
      },
    });
    const attempts = opts.kbsRetry?.attempts ?? 20;
    for (const path of opts.manifest) {
      for (let i = 1; i <= attempts && !closed; i++) {
        try {
          const value = await client.getResource(path);
          received(path, value, 'fetched', client.teeKey!.publicKey);
          break;
        } catch (err) {
          const e = err instanceof KbsClientError ? err : new KbsClientError('Transport', 'unexpected error');
          emit({ type: 'kbs-error', resourcePath: path, code: e.code, message: e.message });
          if (e.code === 'ResourceNotFound') break;
          if (i < attempts) await new Promise((r) => setTimeout(r, opts.kbsRetry?.delayMs ?? 1000));
        }
      }
    }
  }

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = /^\/cdh\/resource-injection\/(prepare|commit)\/(.+)$/.exec((req.url ?? '').split('?')[0]!);
    if (!m || !RESOURCE_PATH_PATTERN.test(m[2]!)) return reply(res, 404, { error: 'resource not found' });
    if (req.method !== 'POST') return reply(res, 405, { error: 'only POST method allowed' });
    const resourcePath = m[2]!;
    const raw = await readBody(req);
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    if (typeof body !== 'object' || body === null) return reply(res, 400, { error: 'body must be a JSON object' });
    const now = Date.now();
    for (const [id, s] of sessions) if (s.expiresAt <= now) sessions.delete(id);
    if (m[1] === 'prepare') {
      const nonce = body['nonce'];
      if (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > 1024) return reply(res, 400, { error: 'nonce must be a non-empty string' });
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
      const key = generateTeeKeyPair();
      const sessionId = randomBytes(16).toString('hex');
      sessions.set(sessionId, { resourcePath, key, expiresAt: now + SESSION_TTL_MS });
      // KBS 0.4.0 composite evidence, bound like an attestation to the KBS (see release/challenge.ts).
      const ev = await compositeEvidence(attester, nonce, key.publicKey);
      const evidence = { primary_evidence: ev.primary, additional_evidence: ev.additional };
      return reply(res, 200, { session_id: sessionId, nonce, tee_pubkey: key.publicKey, evidence: Buffer.from(JSON.stringify(evidence)).toString('base64') });
    }
    const id = body['session_id'];
    const session = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!session || session.resourcePath !== resourcePath) return reply(res, 400, { error: 'unknown injection session for this resource' });
    sessions.delete(id as string);
    let rejected: string | undefined;
    try {
      rejected = received(resourcePath, decryptKbsJwe(body['encrypted_resource'], session.key.privateKey), 'injected', session.key.publicKey);
    } catch (err) {
      const reason = err instanceof JweError ? `${err.code}: ${err.message}` : 'decryption failed';
      emit({ type: 'rejected', resourcePath, reason });
      return reply(res, 400, { error: reason });
    }
    return rejected === undefined ? reply(res, 200, {}) : reply(res, 400, { error: 'resource rejected by the guest' });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => reply(res, 500, { error: 'internal error' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host, () => resolve());
  });

  return {
    apiPort: (server.address() as AddressInfo).port,
    pep: () => pep,
    resources: () => new Map(store),
    events,
    waitForResource(resourcePath, timeoutMs = 30_000) {
      const have = store.get(resourcePath);
      if (have) return Promise.resolve(have);
      return new Promise((resolve, reject) => {
        const onEvent = (e: GuestEvent) => {
          if ((e.type === 'injected' || e.type === 'fetched') && e.resourcePath === resourcePath) {
            clearTimeout(timer);
            events.off('event', onEvent);
            resolve(store.get(resourcePath)!);
          }
        };
        const timer = setTimeout(() => {
          events.off('event', onEvent);
          reject(new Error(`resource ${resourcePath} not received within ${timeoutMs} ms`));
        }, timeoutMs);
        events.on('event', onEvent);
      });
    },
    async close() {
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await kbsRun?.catch(() => undefined);
      for (const v of store.values()) v.fill(0);
      store.clear();
    },
  };
}

/** The TEE key and CPU status an EAR token states (payload only: the guest logs what it was told). */
function earKeyAndStatus(token: string): { key?: TeePubKey; status: string } {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as EarClaims;
    const status = claims.submods['cpu0']?.['ear.status'];
    const key = teePubkeyFromEar(claims);
    return { ...(key ? { key } : {}), status: typeof status === 'string' ? status : 'unknown' };
  } catch {
    return { status: 'unreadable' };
  }
}
