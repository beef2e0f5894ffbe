// Contract for `cai` subcommands: each lives in cli/commands/<name>.ts and exports `command`.
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<Buffer>;
  env: NodeJS.ProcessEnv;
}

export interface CliCommand {
  /** Words that select it, e.g. ['verify', 'tdx']. */
  path: string[];
  summary: string;
  usage: string;
  /** Returns the process exit code. */
  run(args: string[], io: CliIO): Promise<number>;
}
