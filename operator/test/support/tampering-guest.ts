// A hostile guest for refusal tests: a proxy in front of a real simulated guest that alters its
// resource-injection `prepare` answers the way a compromised host could (wrong nonce, another TEE
// key than the one the evidence binds, evidence replayed from an earlier attestation).
import { generateKeyPairSync } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GuestLauncher } from '../../src/sim/local/cloud-server.ts';

export type Tampering = 'wrong-nonce' | 'other-tee-key' | 'replay';

interface PrepareReply {
  session_id: string;
  nonce: string;
  tee_pubkey: Record<string, string>;
  evidence: string;
}

function mutate(reply: PrepareReply, how: Tampering, firstSeen: PrepareReply | undefined): PrepareReply {
  if (how === 'wrong-nonce') return { ...reply, nonce: `${reply.nonce.slice(0, -2)}AA` };
  if (how === 'other-tee-key') {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    return { ...reply, tee_pubkey: { ...reply.tee_pubkey, x: jwk.x ?? '', y: jwk.y ?? '' } };
  }
  // replay: the evidence (and key) of the first attestation this guest ever produced, under the new nonce.
  return firstSeen ? { ...reply, tee_pubkey: firstSeen.tee_pubkey, evidence: firstSeen.evidence } : reply;
}

/** Wraps a launcher: instances whose agent name maps to a tampering mode get a proxy on their guest API port. */
export function tamperingLauncher(inner: GuestLauncher, modeFor: (agentName: string) => Tampering | undefined): GuestLauncher {
  return async (record, req) => {
    const launched = await inner(record, req);
    const how = modeFor(record.owner.name);
    const upstream = launched.ports[req.guestApiPort];
    if (!how || upstream === undefined) return launched;
    let firstSeen: PrepareReply | undefined;
    const proxy = createServer((inReq: IncomingMessage, outRes: ServerResponse) => {
      const chunks: Buffer[] = [];
      inReq.on('data', (c: Buffer) => chunks.push(c));
      inReq.on('end', () => {
        const body = Buffer.concat(chunks);
        const up = request({ host: '127.0.0.1', port: upstream, path: inReq.url, method: inReq.method, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (upRes) => {
          const got: Buffer[] = [];
          upRes.on('data', (c: Buffer) => got.push(c));
          upRes.on('end', () => {
            let text = Buffer.concat(got).toString('utf8');
            if (upRes.statusCode === 200 && inReq.url?.includes('/prepare/')) {
              const reply = JSON.parse(text) as PrepareReply;
              const sent = mutate(reply, how, firstSeen);
              firstSeen ??= reply;
              text = JSON.stringify(sent);
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
      ports: { ...launched.ports, [req.guestApiPort]: (proxy.address() as AddressInfo).port },
      close: async () => {
        await new Promise<void>((resolve) => proxy.close(() => resolve()));
        await launched.close();
      },
    };
  };
}
