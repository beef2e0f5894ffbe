#!/usr/bin/env node
// `cai` entry point (also `kubectl cai` through the kubectl-cai binary name). Subcommands are the
// modules in ./commands; each exports `command: CliCommand`, so adding one needs no edit here.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CliCommand, CliIO } from './command.ts';

async function loadCommands(): Promise<CliCommand[]> {
  const dir = join(import.meta.dirname, 'commands');
  const files = readdirSync(dir).filter((f) => /\.(ts|js)$/.test(f) && !/\.(test|d)\.(ts|js)$/.test(f));
  const modules = await Promise.all(files.sort().map((f) => import(join(dir, f)) as Promise<{ command?: CliCommand }>));
  return modules.flatMap((m) => (m.command ? [m.command] : []));
}

function help(commands: CliCommand[]): string {
  const rows = commands.map((c) => `  cai ${c.path.join(' ').padEnd(24)} ${c.summary}`);
  return ['Usage: cai <command> [options]', '', 'Commands:', ...rows, '', 'Run `cai <command> --help` for its options.', ''].join('\n');
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const commands = await loadCommands();
  // Longest matching command path wins (`verify tdx` before `verify`).
  const match = commands
    .filter((c) => c.path.every((word, i) => argv[i] === word))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!match) {
    const asked = argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help';
    (asked ? io.stdout : io.stderr)(asked ? help(commands) : `cai: unknown command '${argv.join(' ')}'\n\n${help(commands)}`);
    return asked ? 0 : 2;
  }
  const rest = argv.slice(match.path.length);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${match.usage}\n`);
    return 0;
  }
  return match.run(rest, io);
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
      process.stderr.write(`cai: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
