// `cai pep check|serve|schema`: test a sandbox policy against a command before shipping it, run the PEP
// service (inside the guest), or print the policy's JSON Schema.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CliCommand, CliIO } from '../command.ts';

const USAGE = `Usage:
  cai pep check --policy FILE [--workdir DIR] -- "<command>"
      prints allow/deny, the rule id and the programs the command would run; exit 0 allow, 3 deny
  cai pep serve --policy FILE [--socket PATH] [--audit FILE]
      the PEP service (UDS, one JSON request per connection, the seed's submit_intent protocol)
  cai pep digest --policy FILE     sha256 of the policy bytes (what the agent's evidence binds)
  cai pep schema                   the policy JSON Schema`;

export const command: CliCommand = {
  path: ['pep'],
  summary: 'sandbox policy check / PEP service / policy schema',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    let parsed: { values: { policy?: string; workdir?: string; socket?: string; audit?: string; json?: boolean }; positionals: string[] };
    try {
      parsed = parseArgs({
        args,
        options: { policy: { type: 'string' }, workdir: { type: 'string' }, socket: { type: 'string' }, audit: { type: 'string' }, json: { type: 'boolean' } },
        strict: true,
        allowPositionals: true,
      });
    } catch (err) {
      io.stderr(`cai pep: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
      return 2;
    }
    const [action, ...rest] = parsed.positionals;
    const { parsePolicy, policyDigest, policyJsonSchema } = await import('../../pep/policy.ts');
    if (action === 'schema') {
      io.stdout(`${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
      return 0;
    }
    if (!parsed.values.policy || !['check', 'serve', 'digest'].includes(action ?? '')) {
      io.stderr(`cai pep: expected check|serve|digest --policy FILE, or schema\n\n${USAGE}\n`);
      return 2;
    }
    let text: string;
    let policy;
    try {
      text = readFileSync(parsed.values.policy, 'utf8');
      policy = parsePolicy(text).policy;
    } catch (err) {
      io.stderr(`cai pep: ${parsed.values.policy}: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
    if (action === 'digest') {
      io.stdout(`${policyDigest(text)}\n`);
      return 0;
    }
    if (action === 'check') {
      if (rest.length !== 1) {
        io.stderr(`cai pep check: give exactly one command after --\n\n${USAGE}\n`);
        return 2;
      }
      const { analyzeCommand } = await import('../../pep/analyze.ts');
      const d = analyzeCommand(rest[0] as string, parsed.values.workdir ?? policy.workspace.mountTarget, policy);
      if (parsed.values.json) io.stdout(`${JSON.stringify(d)}\n`);
      else io.stdout(`${d.decision} rule=${d.ruleId} programs=[${d.programs.join(', ')}]\n  ${d.reason}\n`);
      return d.decision === 'allow' ? 0 : 3;
    }
    const { startPepServer } = await import('../../pep/server.ts');
    const server = await startPepServer({
      policy,
      policyDigest: policyDigest(text),
      socketPath: parsed.values.socket ?? policy.service.socketPath,
      ...(parsed.values.audit ? { auditFile: parsed.values.audit } : {}),
    });
    io.stderr(`cai pep: serving ${server.socketPath} (policy ${policy.metadata.name} ${policyDigest(text)})\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    await server.close();
    return 0;
  },
};
