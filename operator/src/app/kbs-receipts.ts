// KBS delivery receipts: what any KBS replica (or a separate `cai kbs`) released to an agent, recorded on
// the agent itself so the leader's release phase sees it. Without this, a fetch served by a replica that
// is not the leader, or by the standalone KBS, lived only in that process's memory: the agent waited for
// a fetch that had already happened. The receipt is an annotation holding an ES256 JWS made with the EAR
// key every replica shares (its Secret), bound to the agent's UID: a user who can edit the agent cannot
// forge or move a receipt, only delete it (then the agent waits for the next fetch, as before).
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';
import type { EarSigner, EcPublicJwk } from '../attestation/policy/ear.ts';
import { trustedEcPublicKey, verifyRawEcdsa } from '../protocol/ecdsa-signature.ts';
import { AGENTS } from '../controllers/resources.ts';
import type { KubeClients } from '../runtime/clients.ts';
import { isConflict, isNotFound } from '../runtime/errors.ts';
import type { SharedInformer } from '../runtime/informer.ts';

export const KBS_RECEIPTS_ANNOTATION = 'confidential-agent.io/kbs-receipts';
/** Profile claim: an EAR cannot pass for a receipt, nor a receipt for an EAR (verifyEar checks eat_profile). */
const PROFILE = 'tag:confidential-agent.io,2026:kbs-receipts';
const MAX_JWS_BYTES = 64 * 1024;
const MAX_ENTRIES = 256;

export interface Receipt {
  resourcePath: string;
  at: string;
  /** Hex SHA-256 of the sealed envelope released (status.credentials' digest); absent in older receipts. */
  digest?: string;
}

const DIGEST = /^[0-9a-f]{64}$/;

interface Payload {
  profile: string;
  uid: string;
  /** credential name → [resourcePath, ISO time, envelope SHA-256] */
  d: Record<string, [string, string] | [string, string, string]>;
}

export function signReceipts(signer: EarSigner, uid: string, receipts: ReadonlyMap<string, Receipt>): string {
  const d: Payload['d'] = {};
  for (const [name, r] of [...receipts].slice(-MAX_ENTRIES)) d[name] = r.digest ? [r.resourcePath, r.at, r.digest] : [r.resourcePath, r.at];
  return signer.signJson({ profile: PROFILE, uid, d } satisfies Payload);
}

/** The receipts on `agent` signed by one of `trusted` for this agent's UID; anything else reads as none. */
export function readReceipts(agent: ConfidentialAgent | undefined, trusted: readonly EcPublicJwk[]): Map<string, Receipt> {
  const out = new Map<string, Receipt>();
  const jws = agent?.metadata.annotations?.[KBS_RECEIPTS_ANNOTATION];
  if (!agent || typeof jws !== 'string' || jws.length > MAX_JWS_BYTES) return out;
  const parts = jws.split('.');
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return out;
  const input = Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii');
  const sig = Buffer.from(parts[2]!, 'base64url');
  const signedByTrusted = trusted.some((jwk) => {
    try {
      return verifyRawEcdsa('sha256', input, trustedEcPublicKey(jwk), sig, 32);
    } catch {
      return false;
    }
  });
  if (!signedByTrusted) return out;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return out;
  }
  const p = payload as Partial<Payload>;
  if (p.profile !== PROFILE || p.uid !== agent.metadata.uid || typeof p.d !== 'object' || p.d === null) return out;
  for (const [name, v] of Object.entries(p.d).slice(0, MAX_ENTRIES)) {
    if (!Array.isArray(v) || typeof v[0] !== 'string' || typeof v[1] !== 'string' || Number.isNaN(Date.parse(v[1]))) continue;
    const digest: unknown = v[2];
    out.set(name, { resourcePath: v[0], at: v[1], ...(typeof digest === 'string' && DIGEST.test(digest) ? { digest } : {}) });
  }
  return out;
}

export interface ReceiptWriter {
  /** Records a release on the agent (`namespace/name`); never throws, retries conflicts, logs what it could not write. */
  record(agentKey: string, credential: string, receipt: Receipt): void;
  /** Resolves when every queued write has finished (tests, shutdown). */
  idle(): Promise<void>;
}

interface Logger {
  warn(obj: object, msg: string): void;
}

/**
 * Writes receipts with optimistic concurrency: take the agent from the informer, add the entry, re-sign,
 * merge-patch the annotation with metadata.resourceVersion as precondition; on 409 try again (replicas race).
 */
export function receiptWriter(deps: { clients: KubeClients; signer: EarSigner; agents: SharedInformer<ConfidentialAgent>; logger: Logger; attempts?: number }): ReceiptWriter {
  const queues = new Map<string, Promise<void>>();
  const trusted = [deps.signer.publicJwk];
  const attempts = deps.attempts ?? 6;

  async function write(agentKey: string, credential: string, receipt: Receipt): Promise<void> {
    const [namespace, name] = agentKey.split('/') as [string, string];
    // The informer's copy only (the chart grants list/watch/patch on agents, no get): after a conflict,
    // wait for it to catch up with the write that won.
    for (let i = 0; i < attempts; i++) {
      const agent = deps.agents.get(namespace, name);
      if (!agent?.metadata.uid || !agent.metadata.resourceVersion || agent.metadata.deletionTimestamp) return;
      const receipts = readReceipts(agent, trusted);
      const known = new Set(agent.spec.credentials.map((c) => c.name));
      for (const k of receipts.keys()) if (!known.has(k)) receipts.delete(k);
      receipts.set(credential, receipt);
      const body = { metadata: { resourceVersion: agent.metadata.resourceVersion, annotations: { [KBS_RECEIPTS_ANNOTATION]: signReceipts(deps.signer, agent.metadata.uid, receipts) } } };
      try {
        await deps.clients.customObjects.patchNamespacedCustomObject(
          { group: AGENTS.group, version: AGENTS.version, plural: AGENTS.plural, namespace, name, body, fieldManager: deps.clients.fieldManager },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err)) throw err;
        await new Promise((r) => setTimeout(r, 50 * 2 ** i));
      }
    }
    throw new Error(`still conflicting after ${attempts} attempts`);
  }

  return {
    record(agentKey, credential, receipt) {
      const prev = queues.get(agentKey) ?? Promise.resolve();
      const next = prev
        .then(() => write(agentKey, credential, receipt))
        .catch((err: unknown) => deps.logger.warn({ agent: agentKey, credential, err: err instanceof Error ? err.message : String(err) }, 'could not record a KBS delivery receipt on the agent'))
        .finally(() => {
          if (queues.get(agentKey) === next) queues.delete(agentKey);
        });
      queues.set(agentKey, next);
    },
    async idle() {
      while (queues.size) await Promise.all([...queues.values()]);
    },
  };
}
