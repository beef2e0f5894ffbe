// The PEP service: a Unix socket speaking the seed's submit_intent protocol. Each request is decided
// from the parsed command (analyze.ts) and, when allowed, run in the sandbox (sandbox.ts). Every
// decision is audited with a unique id.
import { chmodSync, createWriteStream, realpathSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { analyzeCommand } from './analyze.ts';
import { Auditor, newAuditId, truncateCommand, type AuditSink } from './audit.ts';
import type { PepPolicy } from './policy.ts';
import { runSandboxed, type SandboxOptions, type SandboxRequest, type SandboxResult } from './sandbox.ts';
import { errorResponse, MAX_REQUEST_BYTES, RequestSchema, successResponse } from './wire.ts';

export interface PepServiceOptions {
  policy: PepPolicy;
  policyDigest: string;
  socketPath: string;
  auditFile?: string;
  audit?: AuditSink;
  sandbox?: SandboxOptions;
  /** Sandboxes running at once; further allowed requests wait (bounded by maxQueued). */
  maxConcurrent?: number;
  maxQueued?: number;
  /** Replaces the sandbox (tests of the protocol without bubblewrap). */
  run?: (policy: PepPolicy, req: SandboxRequest) => Promise<SandboxResult>;
  readTimeoutMs?: number;
}

/** Decides one request. Returns the response line, or undefined when the seed would drop the connection. */
export class PepService {
  readonly auditor: Auditor;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly opts: PepServiceOptions;

  constructor(opts: PepServiceOptions, sink: AuditSink) {
    this.opts = opts;
    this.auditor = new Auditor(sink);
  }

  async handle(raw: Buffer): Promise<string | undefined> {
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      this.auditor.write({ event: 'connection_error', error: `request is not JSON: ${err instanceof Error ? err.message.slice(0, 120) : 'parse error'}` });
      return undefined;
    }
    const parsed = RequestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.auditor.write({ event: 'connection_error', error: `invalid request: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'shape'}` });
      return undefined;
    }
    const req = parsed.data;
    const p = req.params;
    const base = {
      tool_name: p.tool_name,
      run_id: p.run_id,
      session_key: p.session_key,
      agent_id: p.agent_id,
      skill_id: p.skill_id,
      command: truncateCommand(p.params.command),
      workdir: p.params.workdir,
      policy_digest: this.opts.policyDigest,
    };
    const auditId = newAuditId();
    const checkOnly = req.method === 'check_intent';
    if ((req.method !== 'submit_intent' && !checkOnly) || p.tool_name !== 'exec') {
      const message = req.method !== 'submit_intent' && !checkOnly ? `unsupported method: ${req.method.slice(0, 64)}` : `unsupported tool: ${p.tool_name.slice(0, 64)}`;
      this.auditor.write({ event: 'bad_request', audit_id: auditId, ...base, message });
      return errorResponse(req.id, { code: 'BAD_REQUEST', message, audit_id: auditId });
    }
    const deny = (ruleId: string, message: string, programs: string[], detail?: Record<string, unknown>): string => {
      this.auditor.write({ event: 'intent_deny', audit_id: auditId, ...base, decision: 'deny', rule_id: ruleId, programs, reason: message });
      return errorResponse(req.id, { code: 'POLICY_DENY', message, rule_id: ruleId, ...(detail ? { detail } : {}), audit_id: auditId });
    };
    const wd = this.checkWorkdir(p.params.workdir);
    if ('rule' in wd) return deny(wd.rule, wd.message, [], { workdir: p.params.workdir.slice(0, 256) });
    const decision = analyzeCommand(p.params.command, wd.workdir, this.opts.policy);
    if (decision.decision === 'deny') return deny(decision.ruleId, decision.reason, decision.programs);
    if (checkOnly) {
      // Decision only (the OpenClaw plugin asks before rewriting exec to run through submit_intent).
      this.auditor.write({ event: 'intent_check_allow', audit_id: auditId, ...base, decision: 'allow', rule_id: decision.ruleId, programs: decision.programs });
      return JSON.stringify({ id: req.id, result: { status: 'ok', decision: 'allow', rule_id: decision.ruleId, programs: decision.programs, audit_id: auditId } });
    }

    const release = await this.acquire();
    if (!release) {
      this.auditor.write({ event: 'intent_error', audit_id: auditId, ...base, rule_id: decision.ruleId, programs: decision.programs, message: 'sandbox queue full' });
      return errorResponse(req.id, { code: 'EXECUTION_FAILED', message: 'the sandbox queue is full; retry later', audit_id: auditId });
    }
    let result: SandboxResult;
    try {
      const run = this.opts.run ?? ((pol: PepPolicy, r: SandboxRequest) => runSandboxed(pol, r, this.opts.sandbox));
      result = await run(this.opts.policy, { command: p.params.command, workdir: wd.workdir });
    } catch (err) {
      const message = `sandbox failed: ${err instanceof Error ? err.message.slice(0, 200) : 'error'}`;
      this.auditor.write({ event: 'intent_error', audit_id: auditId, ...base, rule_id: decision.ruleId, programs: decision.programs, message });
      return errorResponse(req.id, { code: 'EXECUTION_FAILED', message, audit_id: auditId });
    } finally {
      release();
    }
    this.auditor.write({
      event: 'intent_allow',
      audit_id: auditId,
      ...base,
      decision: 'allow',
      rule_id: decision.ruleId,
      programs: decision.programs,
      backend: result.backend,
      exit_code: result.exitCode,
      duration_ms: result.durationMs,
      timed_out: result.timedOut,
    });
    return successResponse(req.id, {
      status: 'ok',
      decision: 'allow',
      backend: result.backend,
      sandbox_profile: result.sandboxProfile,
      stdout: result.stdout,
      stderr: result.stderr,
      exit_code: result.exitCode,
      duration_ms: result.durationMs,
      audit_id: auditId,
    });
  }

  /** The seed's workdir rule: it must exist, be a directory, and resolve under an allowed prefix. */
  private checkWorkdir(workdir: string): { workdir: string } | { rule: string; message: string } {
    const { hostPath, mountTarget, allowedWorkdirPrefixes } = this.opts.policy.workspace;
    if (!workdir.startsWith('/') || workdir.includes('\0')) return { rule: 'fs.invalid_workdir', message: 'workdir must be an absolute path' };
    const norm = path.posix.normalize(workdir);
    const toHost = (p: string): string => (p === mountTarget || p.startsWith(`${mountTarget}/`) ? hostPath + p.slice(mountTarget.length) : p);
    const toSandbox = (p: string): string => (p === hostPath || p.startsWith(`${hostPath}/`) ? mountTarget + p.slice(hostPath.length) : p);
    let real: string;
    try {
      real = realpathSync(toHost(norm));
      if (!statSync(real).isDirectory()) return { rule: 'fs.invalid_workdir', message: 'workdir is not a directory' };
    } catch {
      return { rule: 'fs.invalid_workdir', message: 'workdir does not exist' };
    }
    const sandboxPath = toSandbox(real);
    const ok = allowedWorkdirPrefixes.some((pre) => {
      let canon: string;
      try {
        canon = toSandbox(realpathSync(toHost(pre)));
      } catch {
        canon = pre;
      }
      return sandboxPath === canon || sandboxPath.startsWith(`${canon}/`);
    });
    if (!ok || !(sandboxPath === mountTarget || sandboxPath.startsWith(`${mountTarget}/`))) {
      return { rule: 'fs.workdir_prefix', message: 'workdir is outside the allowed workspace prefixes' };
    }
    return { workdir: sandboxPath };
  }

  private async acquire(): Promise<(() => void) | undefined> {
    const max = this.opts.maxConcurrent ?? 4;
    if (this.running >= max) {
      if (this.waiting.length >= (this.opts.maxQueued ?? 1024)) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      this.waiting.shift()?.();
    };
  }
}

export interface PepServer {
  socketPath: string;
  service: PepService;
  close(): Promise<void>;
}

export async function startPepServer(opts: PepServiceOptions): Promise<PepServer> {
  let sink: AuditSink = opts.audit ?? ((line) => process.stderr.write(line));
  let fileStream: ReturnType<typeof createWriteStream> | undefined;
  if (opts.auditFile) {
    fileStream = createWriteStream(opts.auditFile, { flags: 'a', mode: 0o640 });
    const s = fileStream;
    sink = (line) => s.write(line);
  }
  const service = new PepService(opts, sink);
  const readTimeout = opts.readTimeoutMs ?? 10_000;
  // allowHalfOpen: the client half-closes after its request and still reads our answer.
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    sock.setTimeout(readTimeout, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_REQUEST_BYTES) {
        over = true;
        service.auditor.write({ event: 'connection_error', error: `request larger than ${MAX_REQUEST_BYTES} bytes` });
        sock.destroy();
        return;
      }
      chunks.push(b);
    });
    sock.on('end', () => {
      if (over) return;
      sock.setTimeout(0);
      service
        .handle(Buffer.concat(chunks))
        .then((resp) => {
          if (resp === undefined) sock.destroy();
          else sock.end(resp);
        })
        .catch(() => sock.destroy());
    });
  });
  rmSync(opts.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: opts.socketPath, backlog: 4096 }, () => resolve());
  });
  chmodSync(opts.socketPath, 0o660);
  service.auditor.write({
    event: 'pep_started',
    socket_path: opts.socketPath,
    backend: opts.policy.sandbox.backend,
    workspace_host_path: opts.policy.workspace.hostPath,
    allowed_workspace_prefixes: opts.policy.workspace.allowedWorkdirPrefixes,
    policy: opts.policy.metadata.name,
    policy_digest: opts.policyDigest,
  });
  return {
    socketPath: opts.socketPath,
    service,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(opts.socketPath, { force: true });
      if (fileStream) await new Promise<void>((resolve) => fileStream.end(() => resolve()));
    },
  };
}
