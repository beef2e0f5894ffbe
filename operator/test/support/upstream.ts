// A tiny HTTP upstream on loopback (what a TNG egress forwards to in tests): answers every request with
// 200 and a fixed body naming itself.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startUpstream(body = 'hello from the attested workload'): Promise<{ port: number; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    hits: () => hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
