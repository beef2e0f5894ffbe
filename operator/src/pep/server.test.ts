// The PEP service over its Unix socket: the seed's request/response examples byte for byte, every
// error code, dropped malformed requests, audit lines for allow and deny, and 1,000 concurrent
// submissions with 1,000 distinct audit ids. Allowed commands run in real bubblewrap.
import { mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkspace, policyFor, REPO_ROOT, type TestWorkspace } from '../../test/support/pep.ts';
import { startPepServer, type PepServer } from './server.ts';

let ws: TestWorkspace;
let server: PepServer;
const audit: string[] = [];
const seedRequest = readFileSync(path.join(REPO_ROOT, 'operator/test/fixtures/pep/seed-request.json'), 'utf8').trim();

function send(body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.createConnection(server.socketPath, () => s.end(body));
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.on('error', reject);
  });
}

const request = (command: string, over: Record<string, unknown> = {}, params: Record<string, unknown> = {}): string => {
  const r = JSON.parse(seedRequest) as { params: Record<string, unknown> & { params: Record<string, unknown> } };
  Object.assign(r.params.params, { command }, params);
  Object.assign(r, over);
  return JSON.stringify(r);
};

beforeAll(async () => {
  ws = makeWorkspace();
  mkdirSync(path.join(ws.dir, 'run'));
  server = await startPepServer({
    policy: policyFor(ws.dir),
    policyDigest: 'sha256:test',
    socketPath: path.join(ws.dir, '..', `pep-${process.pid}.sock`),
    audit: (line) => audit.push(line),
    maxQueued: 2048,
  });
});
afterAll(async () => {
  await server.close();
  ws.cleanup();
});

const auditOf = (id: string): Record<string, unknown> => {
  const line = audit.find((l) => l.includes(`"${id}"`));
  if (!line) throw new Error(`no audit line for ${id}`);
  return JSON.parse(line) as Record<string, unknown>;
};

describe('seed wire protocol', () => {
  it("answers the seed plugin's exact request with the seed's success shape (keys in order)", async () => {
    const resp = await send(seedRequest);
    const body = JSON.parse(resp) as { id: string; result: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(['id', 'result']);
    expect(body.id).toBe('req-6f1c2a9e-3b1d-4c55-9a57-0c2b8e1f7d10');
    expect(Object.keys(body.result)).toEqual(['status', 'decision', 'backend', 'sandbox_profile', 'stdout', 'stderr', 'exit_code', 'duration_ms', 'audit_id']);
    expect(body.result).toMatchObject({ status: 'ok', decision: 'allow', backend: 'bubblewrap', sandbox_profile: 'default-bubblewrap', stdout: 'hello\n', stderr: '', exit_code: 0 });
    const a = auditOf(body.result.audit_id as string);
    expect(a).toMatchObject({ event: 'intent_allow', rule_id: 'allow', programs: ['echo'], command: 'echo hello', exit_code: 0, agent_id: 'main', policy_digest: 'sha256:test' });
    expect(JSON.stringify(a)).not.toContain('hello\\n'); // never the output
  });

  it('denies with POLICY_DENY, the rule id and an audit id, and audits the denial', async () => {
    const body = JSON.parse(await send(request('curl\thttp://x'))) as { id: string; error: Record<string, unknown> };
    expect(Object.keys(body.error)).toEqual(['code', 'message', 'rule_id', 'audit_id']);
    expect(body.error).toMatchObject({ code: 'POLICY_DENY', rule_id: 'network.tool' });
    expect(auditOf(body.error.audit_id as string)).toMatchObject({ event: 'intent_deny', decision: 'deny', rule_id: 'network.tool', programs: [] });
  });

  it('checks the workdir like the seed (fs.invalid_workdir, fs.workdir_prefix)', async () => {
    const missing = JSON.parse(await send(request('ls', {}, { workdir: '/workspace/nope' }))) as { error: Record<string, unknown> };
    expect(missing.error).toMatchObject({ code: 'POLICY_DENY', rule_id: 'fs.invalid_workdir' });
    const outside = JSON.parse(await send(request('ls', {}, { workdir: '/usr' }))) as { error: Record<string, unknown> };
    expect(outside.error).toMatchObject({ code: 'POLICY_DENY', rule_id: 'fs.workdir_prefix' });
    const sub = JSON.parse(await send(request('pwd', {}, { workdir: '/workspace/run' }))) as { result: Record<string, unknown> };
    expect(sub.result.stdout).toBe('/workspace/run\n');
  });

  it('answers BAD_REQUEST for another method or tool', async () => {
    const m = JSON.parse(await send(request('ls', { method: 'other' }))) as { error: Record<string, unknown> };
    expect(m.error).toMatchObject({ code: 'BAD_REQUEST', message: 'unsupported method: other' });
    const r = JSON.parse(seedRequest) as { params: { tool_name: string } };
    r.params.tool_name = 'read';
    const t = JSON.parse(await send(JSON.stringify(r))) as { error: Record<string, unknown> };
    expect(t.error).toMatchObject({ code: 'BAD_REQUEST', message: 'unsupported tool: read' });
  });

  it('drops a request missing a required field or not JSON, with no response (seed behaviour)', async () => {
    const r = JSON.parse(seedRequest) as { params: Record<string, unknown> };
    delete r.params.issued_at_ms;
    expect(await send(JSON.stringify(r))).toBe('');
    expect(await send('{not json')).toBe('');
    expect(audit.some((l) => l.includes('"connection_error"') && l.includes('issued_at_ms'))).toBe(true);
  });

  it('a non-zero exit is a result (exit_code), not an error', async () => {
    const body = JSON.parse(await send(request('printf x; exit 3'))) as { result: Record<string, unknown> };
    expect(body.result).toMatchObject({ stdout: 'x', exit_code: 3 });
  });
});

describe('hostile clients', () => {
  it('drops a request larger than 1 MiB without reading it all', async () => {
    const resp = await send(request('x'.repeat(1_100_000))).catch(() => '');
    expect(resp).toBe('');
    expect(audit.some((l) => l.includes('request larger than 1048576 bytes'))).toBe(true);
  });
  it('a command over shell.maxCommandBytes is a POLICY_DENY, not a crash', async () => {
    const body = JSON.parse(await send(request(`echo ${'a'.repeat(20_000)}`))) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ code: 'POLICY_DENY', rule_id: 'shell.too_long' });
    const line = audit.find((l) => l.includes(String(body.error.audit_id)))!;
    expect(line.length).toBeLessThan(2000); // the command is truncated to 120 characters in the audit
  });
});

describe('audit ids under concurrency', () => {
  it('1,000 concurrent submissions produce 1,000 distinct audit ids, each audited once', async () => {
    const before = audit.length;
    const bodies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => send(request(i % 100 === 0 ? 'true' : `wget http://x/${i}`)).then((s) => JSON.parse(s) as { result?: { audit_id: string }; error?: { audit_id: string } })),
    );
    const ids = bodies.map((b) => b.result?.audit_id ?? b.error?.audit_id);
    expect(ids.every((id) => typeof id === 'string' && /^audit-[0-9a-f-]{36}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(1000);
    expect(bodies.filter((b) => b.result).length).toBe(10);
    const lines = audit.slice(before).map((l) => JSON.parse(l) as { audit_id?: string; event: string });
    const decided = lines.filter((l) => l.event === 'intent_allow' || l.event === 'intent_deny');
    expect(decided.length).toBe(1000);
    expect(new Set(decided.map((l) => l.audit_id))).toEqual(new Set(ids));
  });
});
