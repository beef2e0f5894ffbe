// A client of the PEP's Unix socket (the seed's protocol): one JSON request per connection, half-close,
// read the one JSON answer. Self-contained: this directory is installed into OpenClaw on its own.
import { randomUUID } from 'node:crypto';
import net from 'node:net';

export interface IntentContext {
  runId?: string;
  sessionKey?: string;
  agentId?: string;
}

export interface PepAnswer {
  id: string;
  result?: { status: string; decision: string; stdout?: string; stderr?: string; exit_code?: number; audit_id: string; rule_id?: string; programs?: string[] };
  error?: { code: string; message: string; rule_id?: string; audit_id?: string };
}

const MAX_ANSWER = 64 * 1024 * 1024;

export function intentRequest(method: 'submit_intent' | 'check_intent', command: string, workdir: string, socketPath: string, ctx: IntentContext, provider: string): string {
  return JSON.stringify({
    method,
    id: `req-${randomUUID()}`,
    params: {
      version: 1,
      run_id: ctx.runId ?? `run-${Date.now()}`,
      session_key: ctx.sessionKey ?? 'agent:unknown',
      agent_id: ctx.agentId ?? 'main',
      tool_name: 'exec',
      skill_id: 'cai-pep.exec',
      params: { command, workdir },
      request_context: { provider, socket_path: socketPath },
      issued_at_ms: Date.now(),
    },
  });
}

export function callPep(socketPath: string, body: string, timeoutMs = 120_000): Promise<PepAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const sock = net.createConnection(socketPath, () => sock.end(body));
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error('PEP did not answer in time')));
    sock.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_ANSWER) sock.destroy(new Error('PEP answer too large'));
      else chunks.push(b);
    });
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) return reject(new Error('PEP closed the connection without an answer'));
      try {
        resolve(JSON.parse(text) as PepAnswer);
      } catch {
        reject(new Error('PEP answer is not JSON'));
      }
    });
  });
}
