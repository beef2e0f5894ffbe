// The project's OpenClaw plugin inside the real OpenClaw (npm openclaw, pinned dev dependency): loaded by
// OpenClaw's own plugin loader from its directory, its before_tool_call hook run by OpenClaw's hook
// runner through OpenClaw's tool wrapper (public plugin SDK). The tool underneath stands in for the
// native exec tool (it runs the command it is given with /bin/sh), so what reaches it is exactly what
// OpenClaw would execute. The PEP is the real service with real bubblewrap.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkspace, policyFor, type TestWorkspace } from '../../test/support/pep.ts';
import { startPepServer, type PepServer } from './server.ts';

// openclaw's exports map hides package.json; resolve the directory through the project's node_modules.
const OPENCLAW_DIR = path.resolve(import.meta.dirname, '../../../node_modules/openclaw');
const PLUGIN_DIR = path.join(import.meta.dirname, 'openclaw-plugin');

interface ToolResult {
  content: { type: string; text: string }[];
  details?: { status?: string; reason?: string };
}
interface Tool {
  name: string;
  description: string;
  parameters: object;
  execute: (id: string, params: Record<string, unknown>) => Promise<ToolResult>;
}
type LoadPlugins = (opts: object) => { plugins: { id: string; status: string; error?: string }[] };

let ws: TestWorkspace;
let pep: PepServer;
let loadOpenClawPlugins: LoadPlugins;
let wrapTool: (tool: Tool, ctx: object) => Tool;
const audit: string[] = [];
const nativeCalls: Record<string, unknown>[] = [];

/** Stand-in for OpenClaw's exec tool: runs params.command with /bin/sh. */
const nativeExec: Tool = {
  name: 'exec',
  description: 'run a shell command',
  parameters: {},
  execute: (_id, params) => {
    nativeCalls.push(params);
    return new Promise((resolve) => {
      execFile('/bin/sh', ['-c', String(params['command'])], { timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ content: [{ type: 'text', text: `${stdout}${stderr}exit=${err ? (err.code ?? 1) : 0}` }] });
      });
    });
  },
};

function loadWith(config: Record<string, unknown>): Tool {
  const registry = loadOpenClawPlugins({
    config: { plugins: { enabled: true, allow: ['cai-pep'], load: { paths: [PLUGIN_DIR] }, entries: { 'cai-pep': { enabled: true, config } } } },
    workspaceDir: ws.dir,
    cache: false,
  });
  const mine = registry.plugins.find((p) => p.id === 'cai-pep');
  expect(mine, JSON.stringify(registry.plugins.filter((p) => p.status !== 'disabled'))).toMatchObject({ status: 'loaded' });
  return wrapTool(nativeExec, { agentId: 'main', sessionKey: 'agent:main', runId: 'run-1' });
}

beforeAll(async () => {
  expect(JSON.parse(readFileSync(path.join(OPENCLAW_DIR, 'package.json'), 'utf8')).version).toBe('2026.9.6');
  process.env.OPENCLAW_STATE_DIR = mkdtempSync(path.join(tmpdir(), 'openclaw-state-'));
  // The loader is not in OpenClaw's public exports; 2026.9.6 bundles it as loader-runtime-load-*.mjs (export r).
  const dist = path.join(OPENCLAW_DIR, 'dist');
  const loader = readdirSync(dist).find((f) => f.startsWith('loader-runtime-load-') && f.endsWith('.mjs'));
  if (!loader) throw new Error('openclaw dist has no loader-runtime-load-*.mjs (version changed?)');
  loadOpenClawPlugins = ((await import(pathToFileURL(path.join(dist, loader)).href)) as { r: LoadPlugins }).r;
  wrapTool = ((await import('openclaw/plugin-sdk/agent-harness-runtime')) as unknown as { wrapToolWithBeforeToolCallHook: typeof wrapTool }).wrapToolWithBeforeToolCallHook;
  ws = makeWorkspace();
  pep = await startPepServer({ policy: policyFor(ws.dir), policyDigest: 'sha256:test', socketPath: path.join(ws.dir, '..', `oc-pep-${process.pid}.sock`), audit: (l) => audit.push(l) });
}, 120_000);
afterAll(async () => {
  await pep?.close();
  ws?.cleanup();
});

describe('cai-pep plugin in OpenClaw 2026.9.6', () => {
  it('a denied exec is blocked by OpenClaw itself, with the PEP reason and audit id; nothing runs', async () => {
    const exec = loadWith({ socketPath: pep.socketPath, defaultWorkdir: '/workspace' });
    const before = nativeCalls.length;
    const r = await exec.execute('call-1', { command: 'curl\thttp://example.com' });
    expect(r.details?.status).toBe('blocked');
    expect(r.content[0]?.text).toMatch(/^cai-pep deny: curl is a network client \(network\.tools\) \(audit_id=audit-[0-9a-f-]{36}\)$/);
    expect(nativeCalls.length).toBe(before);
    expect(audit.some((l) => l.includes('"intent_deny"') && l.includes('network.tool'))).toBe(true);
  });

  it('an allowed exec runs through the PEP in bubblewrap (params rewritten to the submit client)', async () => {
    const exec = loadWith({ socketPath: pep.socketPath });
    const r = await exec.execute('call-2', { command: 'echo hello > f && cat f && uname -n', workdir: '/workspace' });
    expect(r.content[0]?.text).toBe('hello\npep-sandbox\nexit=0');
    expect(String(nativeCalls.at(-1)?.['command'])).toContain('submit.mjs');
    expect(readFileSync(path.join(ws.dir, 'f'), 'utf8')).toBe('hello\n');
    expect(audit.filter((l) => l.includes('"intent_check_allow"') || l.includes('"intent_allow"')).length).toBeGreaterThanOrEqual(2);
  });

  it('blocks an empty command', async () => {
    const exec = loadWith({ socketPath: pep.socketPath });
    expect((await exec.execute('call-3', { command: '  ' })).content[0]?.text).toBe('cai-pep: exec command is empty');
  });

  it('pepRequired: an unreachable PEP blocks exec; pepRequired false falls back to native exec (seed semantics)', async () => {
    const missing = path.join(ws.dir, '..', 'no-such-pep.sock');
    const blocked = await loadWith({ socketPath: missing }).execute('call-4', { command: 'echo native' });
    expect(blocked.content[0]?.text).toMatch(/^cai-pep unavailable: connect ENOENT/);
    const open = await loadWith({ socketPath: missing, pepRequired: false }).execute('call-5', { command: 'echo native' });
    expect(open.content[0]?.text).toBe('native\nexit=0');
  });
});
