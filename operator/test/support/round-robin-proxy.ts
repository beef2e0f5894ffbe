// A loopback L4 load balancer for HA tests: each client connection goes to the next backend in turn, from
// the client's own source address (any 127.0.0.0/8 address can be bound), so the backends see the guest's
// address as they would behind a Service that preserves client IPs. A backend that refuses the connection
// is skipped (health-checked load balancers stop sending to a dead pod); one that dies mid-request drops
// the client connection, as a dead pod would. It logs each connection's request line and response status
// when the traffic is plain HTTP (one request per connection: the guests in these tests do not keep
// connections alive); TLS passes through unread, as through a Service.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface ProxiedRequest {
  client: string;
  backend: number;
  /** e.g. `POST /kbs/v0/auth` */
  request: string;
  /** HTTP status, or 0 when the backend dropped the connection first. */
  status: number;
}

export interface RoundRobinProxy {
  port: number;
  log: ProxiedRequest[];
  /** Client addresses whose connection is being routed (not yet connected upstream). */
  routing: Set<string>;
  /** Hold new connections (they wait, unrouted) until resume(): how a balancer stops routing to a pod it saw die. */
  pause(): void;
  resume(): void;
  /** Replace the backends (pods came and went); connections already routed stay where they are. */
  setBackends(ports: number[]): void;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(initialBackends: number[]): Promise<RoundRobinProxy> {
  let backends = [...initialBackends];
  const log: ProxiedRequest[] = [];
  let next = 0;
  const sockets = new Set<Socket>();
  const routing = new Set<string>();
  let held: Array<() => void> | undefined;

  const connect = (client: Socket, first: Buffer, entry: ProxiedRequest, tries: number) => {
    if (backends.length === 0) {
      routing.delete(entry.client);
      return void client.destroy();
    }
    const index = next++ % backends.length;
    const upstream = createConnection({ host: '127.0.0.1', port: backends[index]!, localAddress: client.remoteAddress! });
    sockets.add(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      routing.delete(entry.client);
      entry.backend = index;
      log.push(entry);
      upstream.write(first);
      client.pipe(upstream);
      upstream.once('data', (d: Buffer) => {
        const m = /^HTTP\/1\.1 (\d{3})/.exec(d.subarray(0, 32).toString('latin1'));
        entry.status = m ? Number(m[1]) : 0;
      });
      upstream.pipe(client);
    });
    upstream.on('error', () => {
      if (!connected && tries + 1 < backends.length) return connect(client, first, entry, tries + 1);
      routing.delete(entry.client);
      client.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      if (connected) client.end();
    });
  };

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.once('data', (first: Buffer) => {
      client.pause();
      const line = first.subarray(0, Math.min(first.length, 256)).toString('latin1').split('\r\n')[0] ?? '';
      const [method = '', path = ''] = line.split(' ');
      const entry = { client: client.remoteAddress ?? '', backend: -1, request: `${method} ${path}`, status: 0 };
      routing.add(entry.client);
      const go = () => connect(client, first, entry, 0);
      if (held) held.push(go);
      else go();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    log,
    routing,
    pause: () => void (held ??= []),
    resume: () => {
      const waiting = held ?? [];
      held = undefined;
      for (const go of waiting) go();
    },
    setBackends: (ports) => void (backends = [...ports]),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
