// The simulated agent endpoint of a local guest: answers like the agent's OpenAI-compatible gateway
// (`GET /v1/models`, `GET /healthz`) so clients and tests can reach "the agent" behind an instance.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WorkloadEndpoint {
  port: number;
  close(): Promise<void>;
}

export async function startWorkloadEndpoint(host: string, model: string): Promise<WorkloadEndpoint> {
  const server: Server = createServer((req, res) => {
    const body =
      req.url === '/v1/models'
        ? { object: 'list', data: [{ id: model, object: 'model', owned_by: 'confidential-agent' }] }
        : req.url === '/healthz'
          ? { status: 'ok' }
          : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'not found' }));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
