// The model stub of a local guest: a stand-in for vLLM's OpenAI-compatible server (`GET /v1/models`,
// `POST /v1/chat/completions` with a canned reply that says it is a stub), plus `GET /health` and
// `GET /healthz`. When the local guest runs the real OpenClaw gateway this sits beside it; otherwise it is
// the whole (stand-in) workload. Nothing here is a model.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WorkloadEndpoint {
  port: number;
  close(): Promise<void>;
}

export async function startWorkloadEndpoint(host: string, model: string): Promise<WorkloadEndpoint> {
  const server: Server = createServer((req, res) => {
    req.resume();
    const body =
      req.url === '/v1/models'
        ? { object: 'list', data: [{ id: model, object: 'model', owned_by: 'confidential-agent' }] }
        : req.url === '/healthz'
          ? { status: 'ok' }
          : req.url === '/health'
            ? { ok: true, status: 'live', workload: 'model-stub' }
            : req.url === '/v1/chat/completions' && req.method === 'POST'
              ? {
                  id: 'stub-1',
                  object: 'chat.completion',
                  model,
                  choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'model stub (stands in for vLLM; no model is loaded)' } }],
                }
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
