#!/usr/bin/env node
// `cai` entry point (also `kubectl cai` through the kubectl-cai binary name). Subcommands are listed
// in ./registry.ts and loaded only when selected.
import type { CliIO } from './command.ts';
import { errorText } from './error-text.ts';
import { COMMANDS, type CommandEntry } from './registry.ts';

function help(commands: CommandEntry[]): string {
  const rows = commands.map((c) => `  cai ${c.path.join(' ').padEnd(24)} ${c.summary}`);
  return ['Usage: cai <command> [options]', '', 'Commands:', ...rows, '', 'Run `cai <command> --help` for its options.', ''].join('\n');
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const commands = COMMANDS;
  // Longest matching command path wins (`verify tdx` before `verify`).
  const match = commands
    .filter((c) => c.path.every((word, i) => argv[i] === word))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!match) {
    const asked = argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help';
    (asked ? io.stdout : io.stderr)(asked ? help(commands) : `cai: unknown command '${argv.join(' ')}'\n\n${help(commands)}`);
    return asked ? 0 : 2;
  }
  const { command } = await match.load();
  const rest = argv.slice(match.path.length);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.usage}\n`);
    return 0;
  }
  return command.run(rest, io);
}

const isMain = process.argv[1] !== undefined && import.meta.filename === process.argv[1];
const invokedAsBin = process.argv[1] !== undefined && /(^|\/)(cai|kubectl-cai)$/.test(process.argv[1]);
if (isMain || invokedAsBin) {
  const io: CliIO = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    env: process.env,
  };
  runCli(process.argv.slice(2), io).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`cai: ${errorText(err)}\n`);
      process.exitCode = 1;
    },
  );
}
