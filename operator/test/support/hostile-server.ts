// A hostile HTTP peer on 127.0.0.1 for the trust-material clients (PCCS, Rekor, RIM, OCSP): whatever
// path is asked, it answers in the current `mode`. Counts the bytes it managed to push, so tests can
// show a client stopped reading at its cap instead of draining the stream.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type HostileMode =
  | 'oversized' // 200, a real body of `size` bytes with a true Content-Length
  | 'endless' // 200, chunked, 64 KiB chunks until the client hangs up
  | 'huge-content-length' // 200, Content-Length: 10^15, then a trickle
  | 'drip' // 200, one byte every 50 ms forever (only a timeout stops it)
  | 'redirect' // 302 to `redirectTo`
  | 'secret-403'; // 403 with a body that must never be echoed

export const SECRET_BODY = 'internal-only: db-password=hunter2-do-not-echo';

export class HostileServer {
  mode: HostileMode = 'endless';
  size = 0;
  redirectTo = 'http://127.0.0.1:1/elsewhere';
  /** Bytes written to the socket in the current/last response. */
  bytesSent = 0;
  readonly requests: string[] = [];
  url = '';
  private server: Server | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.requests.push(`${req.method} ${req.url}`);
      req.resume();
      this.bytesSent = 0;
      const write = (chunk: Buffer): boolean => {
        this.bytesSent += chunk.length;
        return res.write(chunk);
      };
      switch (this.mode) {
        case 'oversized': {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(this.size) });
          const chunk = Buffer.alloc(64 * 1024, 0x20);
          let left = this.size;
          const pump = (): void => {
            while (left > 0) {
              const n = Math.min(left, chunk.length);
              left -= n;
              if (!write(chunk.subarray(0, n))) return void res.once('drain', pump);
            }
            res.end();
          };
          res.on('error', () => undefined);
          return pump();
        }
        case 'endless': {
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(64 * 1024, 0x5b); // '['
          let open = true;
          res.on('close', () => (open = false));
          res.on('error', () => undefined);
          const pump = (): void => {
            while (open) if (!write(chunk)) return void res.once('drain', pump);
          };
          return pump();
        }
        case 'huge-content-length':
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000000000000000' });
          write(Buffer.from('['));
          return this.drip(res, write);
        case 'drip':
          res.writeHead(200, { 'content-type': 'application/json' });
          return this.drip(res, write);
        case 'redirect':
          res.writeHead(302, { location: this.redirectTo }).end();
          return;
        case 'secret-403':
          res.writeHead(403, { 'content-type': 'text/plain' }).end(SECRET_BODY);
          return;
      }
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  private drip(res: ServerResponse, write: (b: Buffer) => boolean): void {
    const t = setInterval(() => write(Buffer.from(' ')), 50);
    this.timers.add(t);
    res.on('close', () => {
      clearInterval(t);
      this.timers.delete(t);
    });
    res.on('error', () => undefined);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
