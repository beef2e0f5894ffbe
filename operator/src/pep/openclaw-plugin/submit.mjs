/* global process, Buffer */
// What OpenClaw's native exec runs after the plugin rewrote an allowed command: submit it to the PEP
// (which decides again and runs it in the sandbox) and relay stdout, stderr and the exit code.
// Plain JavaScript: OpenClaw installs plugins under node_modules, where Node does not strip types.
// Usage: node submit.mjs <socket> <workdir> <base64 command> [runId] [sessionKey] [agentId]
import { randomUUID } from 'node:crypto';
import net from 'node:net';

const MAX_ANSWER = 64 * 1024 * 1024;
const [socketPath, workdir, b64, runId, sessionKey, agentId] = process.argv.slice(2);
if (!socketPath || !workdir || b64 === undefined) {
  process.stderr.write('cai-pep submit: usage: submit.mjs <socket> <workdir> <base64 command> [runId] [sessionKey] [agentId]\n');
  process.exit(2);
}
const request = JSON.stringify({
  method: 'submit_intent',
  id: `req-${randomUUID()}`,
  params: {
    version: 1,
    run_id: runId || `run-${Date.now()}`,
    session_key: sessionKey || 'agent:unknown',
    agent_id: agentId || 'main',
    tool_name: 'exec',
    skill_id: 'cai-pep.exec',
    params: { command: Buffer.from(b64, 'base64').toString('utf8'), workdir },
    request_context: { provider: 'openclaw', socket_path: socketPath },
    issued_at_ms: Date.now(),
  },
});

const answer = await new Promise((resolve) => {
  const chunks = [];
  let size = 0;
  const sock = net.createConnection(socketPath, () => sock.end(request));
  sock.on('data', (b) => {
    size += b.length;
    if (size > MAX_ANSWER) sock.destroy(new Error('PEP answer too large'));
    else chunks.push(b);
  });
  sock.on('error', (err) => resolve({ transport: err.message }));
  sock.on('close', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      resolve(text ? JSON.parse(text) : { transport: 'PEP closed the connection without an answer' });
    } catch {
      resolve({ transport: 'PEP answer is not JSON' });
    }
  });
});
if (answer.transport) {
  process.stderr.write(`cai-pep unavailable: ${answer.transport}\n`);
  process.exit(126);
}
if (answer.error) {
  process.stderr.write(`cai-pep deny: ${answer.error.message} (audit_id=${answer.error.audit_id ?? 'none'})\n`);
  process.exit(126);
}
process.stdout.write(answer.result?.stdout ?? '');
process.stderr.write(answer.result?.stderr ?? '');
process.exitCode = answer.result?.exit_code ?? 1;
