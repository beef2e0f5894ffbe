// A hostile HTTP peer (test double at the network boundary) for bounded-read tests: it answers every request
// with an endless/oversized body, a body that trickles forever (slow loris), or truncated JSON, and counts the
// bytes it managed to push into the socket, so a test can show the client stopped reading early.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type HostileMode = 'oversized' | 'declared-oversized' | 'slow-loris' | 'truncated-json';

export interface HostilePeer {
  url: string;
  /** Requests received. */
  requests(): number;
  /** Body bytes written before the client went away (backpressure-limited). */
  bytesWritten(): number;
  close(): Promise<void>;
}

const CHUNK = Buffer.alloc(1024 * 1024, 0x41);

/** Streams up to `limit` bytes, waiting for 'drain' so nothing is queued beyond what the client reads. */
async function flood(res: ServerResponse, limit: number, count: (n: number) => void): Promise<void> {
  for (let sent = 0; sent < limit && !res.destroyed; sent += CHUNK.length) {
    count(CHUNK.length);
    if (!res.write(CHUNK)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  res.end();
}

export async function startHostilePeer(mode: HostileMode, opts: { floodBytes?: number } = {}): Promise<HostilePeer> {
  let requests = 0;
  let written = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      if (mode === 'truncated-json') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"session_id":"s","nonce":"n","tee_pubkey":{"kty":"EC"');
        return;
      }
      if (mode === 'declared-oversized') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 * 1024 * 1024) });
        void flood(res, opts.floodBytes ?? 256 * 1024 * 1024, (n) => (written += n));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      if (mode === 'oversized') {
        res.write('{"session_id":"');
        void flood(res, opts.floodBytes ?? 256 * 1024 * 1024, (n) => (written += n));
        return;
      }
      // slow loris: a valid start, then one byte every 50 ms, never the end.
      res.write('{"session_id":"');
      const t = setInterval(() => {
        if (res.destroyed) return clearInterval(t);
        written++;
        res.write('a');
      }, 50);
      timers.add(t);
      res.on('close', () => clearInterval(t));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    bytesWritten: () => written,
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearInterval(t);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
