// Guest-side parts of the soak: a passive observer of the operator <-> guest injection channel (which
// TEE keys passing appraisals bound), hostile guests towards the KBS, and what each guest holds of its
// credentials after settling (digests only; values stay in the guests' memory).
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sampleEvidence } from '../../../src/attestation/sample/verifier.ts';
import { parseTdxQuote } from '../../../src/attestation/tdx/quote.ts';
import { initDataDigestOf } from '../../../src/pep/attestation.ts';
import { primaryReportData } from '../../../src/protocol/runtime-data.ts';
import { generateTeeKeyPair, parseTeePubKey, type TeePubKey } from '../../../src/protocol/tee-key.ts';
import type { Evidence } from '../../../src/sim/guest/kbs-client.ts';
import { teeKeyId } from '../../../src/sim/guest/guest.ts';
import type { GuestLauncher } from '../../../src/sim/local/cloud-server.ts';
import type { AppraisalRecord } from './invariants.ts';

export type KbsTampering = 'kbs-wrong-nonce' | 'kbs-other-tee-key' | 'kbs-replay';
export const KBS_HOSTILE: KbsTampering[] = ['kbs-wrong-nonce', 'kbs-other-tee-key', 'kbs-replay'];

/**
 * Evidence a hostile guest sends the KBS instead of its own (its challenge-mode bootstrap push stays
 * genuine, so it learns the KBS URL): sample evidence over another nonce, bound to a key other than the
 * one in its runtime data, or one stale evidence (nonce and key of an earlier session) replayed each time.
 */
export function hostileKbsEvidence(how: KbsTampering, initData: string | undefined): (nonce: string, key: TeePubKey) => Evidence {
  const digest = initData !== undefined ? initDataDigestOf(initData) : undefined;
  const evidence = (nonce: string, key: TeePubKey): Evidence => ({ primary: sampleEvidence(primaryReportData(nonce, key, ''), '1', digest), additional: '' });
  if (how === 'kbs-wrong-nonce') return (nonce, key) => evidence(`${nonce}-not-the-kbs-nonce`, key);
  if (how === 'kbs-other-tee-key') return (nonce) => evidence(nonce, generateTeeKeyPair().publicKey);
  const stale = evidence(randomBytes(32).toString('base64url'), generateTeeKeyPair().publicKey);
  return () => stale;
}

interface PrepareReply {
  session_id?: unknown;
  nonce?: unknown;
  tee_pubkey?: unknown;
  evidence?: unknown;
}

const MAX_BODY = 4 * 1024 * 1024;

/** Whether a prepare reply's sample evidence binds its nonce and TEE key (report data recomputed here). */
export function prepareBindsKey(reply: PrepareReply): { teeKey: string; bound: boolean } | undefined {
  const parsed = parseTeePubKey(reply.tee_pubkey);
  if (!parsed.ok || typeof reply.nonce !== 'string' || typeof reply.evidence !== 'string') return undefined;
  const teeKey = teeKeyId(parsed.key);
  try {
    const ev = JSON.parse(Buffer.from(reply.evidence, 'base64').toString('utf8')) as { primary_evidence?: { report_data?: unknown; quote?: unknown }; additional_evidence?: unknown };
    const additional = typeof ev.additional_evidence === 'string' ? ev.additional_evidence : '';
    const want = primaryReportData(reply.nonce, parsed.key, additional);
    const quote = ev.primary_evidence?.quote;
    if (typeof quote === 'string') {
      // TDX (the hardware agents): REPORTDATA is the SHA-384 followed by 16 zero bytes.
      const reportData = Buffer.from(parseTdxQuote(Buffer.from(quote, 'base64')).body.reportData);
      return { teeKey, bound: reportData.subarray(0, 48).equals(want) && reportData.subarray(48).every((b) => b === 0) };
    }
    return { teeKey, bound: ev.primary_evidence?.report_data === want.toString('base64') };
  } catch {
    return { teeKey, bound: false };
  }
}

/**
 * Wraps a launcher with a pass-through proxy on the guest API port that records, for each commit the
 * operator sends (it commits only after its appraisal passed), the key the session's prepare evidence
 * named and whether that evidence binds it. Sees what the operator sees (outside any tampering proxy).
 */
export function appraisalObserver(inner: GuestLauncher, record: (a: AppraisalRecord) => void): GuestLauncher {
  return async (instance, req) => {
    const launched = await inner(instance, req);
    const upstream = launched.ports[req.guestApiPort];
    if (upstream === undefined) return launched;
    const sessions = new Map<string, { teeKey: string; bound: boolean }>();
    const proxy = createServer((inReq: IncomingMessage, outRes: ServerResponse) => {
      const chunks: Buffer[] = [];
      let size = 0;
      inReq.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      inReq.on('end', () => {
        const body = Buffer.concat(chunks);
        const isCommit = inReq.url?.includes('/commit/') === true;
        if (isCommit) {
          try {
            const id = (JSON.parse(body.toString('utf8')) as { session_id?: unknown }).session_id;
            const s = typeof id === 'string' ? sessions.get(id) : undefined;
            if (typeof id === 'string') sessions.delete(id);
            record({ at: Date.now(), instanceId: instance.id, agent: instance.owner.name, teeKey: s?.teeKey ?? 'unknown-session', via: 'challenge', passed: true, bound: s?.bound ?? false });
          } catch {
            /* not JSON: the guest refuses it */
          }
        }
        const up = request({ host: '127.0.0.1', port: upstream, path: inReq.url, method: inReq.method, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (upRes) => {
          const got: Buffer[] = [];
          upRes.on('data', (c: Buffer) => got.push(c));
          upRes.on('end', () => {
            const text = Buffer.concat(got);
            if (upRes.statusCode === 200 && inReq.url?.includes('/prepare/')) {
              try {
                const reply = JSON.parse(text.toString('utf8')) as PrepareReply;
                const b = prepareBindsKey(reply);
                if (b && typeof reply.session_id === 'string') sessions.set(reply.session_id, b);
                if (sessions.size > 256) sessions.delete(sessions.keys().next().value!);
              } catch {
                /* not JSON: the operator refuses it */
              }
            }
            outRes.writeHead(upRes.statusCode ?? 502, { 'content-type': 'application/json' }).end(text);
          });
        });
        up.on('error', () => outRes.writeHead(502).end());
        up.end(body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
    return {
      ...launched,
      ports: { ...launched.ports, [req.guestApiPort]: (proxy.address() as AddressInfo).port },
      close: async () => {
        proxy.closeAllConnections();
        await new Promise<void>((resolve) => proxy.close(() => resolve()));
        await launched.close();
      },
    };
  };
}

export const sha256Hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
