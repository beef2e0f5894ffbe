// OpenClaw plugin: every `exec` tool call goes through the PEP. Settings as the seed's plugin:
// socketPath, pepRequired, defaultWorkdir. With stock OpenClaw (no result-returning hooks) it works
// through the public before_tool_call API only: a denied command is blocked by OpenClaw itself
// ({block, blockReason}); an allowed one has its params rewritten so the native exec runs the submit client
// (submit.mjs) which submits the original command to the PEP (decided again, run in the sandbox) and relays its output.
import { fileURLToPath } from 'node:url';
import { callPep, intentRequest, type IntentContext } from './client.ts';

interface PluginApi {
  pluginConfig?: Record<string, unknown>;
  config?: { confidentialAgent?: { pepSocket?: string; pepRequired?: boolean; defaultWorkdir?: string } };
  on(hook: 'before_tool_call', handler: (event: ToolCallEvent, ctx: IntentContext) => Promise<HookResult>): void;
}
interface ToolCallEvent {
  toolName: string;
  params?: Record<string, unknown>;
}
type HookResult = { block?: boolean; blockReason?: string; params?: Record<string, unknown> };

const SUBMIT = fileURLToPath(new URL('./submit.mjs', import.meta.url));
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export default function register(api: PluginApi): void {
  const cfg = api.pluginConfig ?? {};
  const ca = api.config?.confidentialAgent ?? {};
  const socketPath = str(cfg['socketPath']) ?? ca.pepSocket ?? '/run/cai/pep.sock';
  const pepRequired = typeof cfg['pepRequired'] === 'boolean' ? cfg['pepRequired'] : (ca.pepRequired ?? true);
  const defaultWorkdir = str(cfg['defaultWorkdir']) ?? ca.defaultWorkdir ?? '/workspace';

  api.on('before_tool_call', async (event, ctx) => {
    if (event.toolName !== 'exec') return {};
    const params = event.params ?? {};
    const command = str(params['command']) ?? str(params['cmd']) ?? '';
    const workdir = str(params['workdir']) ?? str(params['cwd']) ?? defaultWorkdir;
    if (command.trim() === '') return { block: true, blockReason: 'cai-pep: exec command is empty' };
    let answer;
    try {
      answer = await callPep(socketPath, intentRequest('check_intent', command, workdir, socketPath, ctx, 'openclaw'), 30_000);
    } catch (err) {
      if (!pepRequired) return {};
      return { block: true, blockReason: `cai-pep unavailable: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (answer.error) return { block: true, blockReason: `cai-pep deny: ${answer.error.message} (audit_id=${answer.error.audit_id ?? 'none'})` };
    const args = [process.execPath, SUBMIT, socketPath, workdir, Buffer.from(command, 'utf8').toString('base64'), ctx.runId ?? '', ctx.sessionKey ?? '', ctx.agentId ?? ''];
    const rewritten: Record<string, unknown> = { ...params, command: args.map(quote).join(' ') };
    // OpenClaw overlays these params on the originals (a key cannot be removed): the native exec still
    // gets the workdir, which in the guest is the workspace's host path; the PEP gets it as the sandbox path.
    delete rewritten['cmd'];
    return { params: rewritten };
  });
}
