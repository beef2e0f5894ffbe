// Decides whether a shell command may run, from its syntax tree (mvdan/sh), never from substrings.
// Every simple command — in pipelines, lists, subshells, blocks, loops, functions, command and process
// substitutions, here-docs fed to shells, `eval`/`sh -c`/`trap` strings (recursively) and the commands
// run through wrappers (env, command, exec, timeout, xargs, find -exec, busybox …) — is resolved to a
// program and checked. What the analyser cannot know (a `$x` command name, an unparseable input,
// a dynamic eval string) is denied with a rule id saying so.
import { readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { PepPolicy } from './policy.ts';
import {
  nodeType,
  parseShell,
  redirectOp,
  ShellParseError,
  walk,
  type ArrayExpr,
  type Assign,
  type CallExpr,
  type DblQuoted,
  type DeclClause,
  type ForClause,
  type FuncDecl,
  type Lit,
  type ParamExp,
  type Redirect,
  type SglQuoted,
  type ShFile,
  type ShNode,
  type Stmt,
  type Word,
  type WordIter,
} from './shell-ast.ts';

export interface Decision {
  decision: 'allow' | 'deny';
  ruleId: string;
  reason: string;
  /** Every program the command would run, resolved (basename, or path for workspace executables). */
  programs: string[];
}

class Deny extends Error {
  readonly ruleId: string;
  constructor(ruleId: string, reason: string) {
    super(reason);
    this.ruleId = ruleId;
  }
}

/** A value the analyser does not know. */
const UNKNOWN = Symbol('unknown');
type Values = string[] | typeof UNKNOWN;

// Characters that were unquoted in the source, so they keep their glob/brace meaning.
const M_LBRACE = '\uE000';
const M_COMMA = '\uE001';
const M_RBRACE = '\uE002';
const M_STAR = '\uE003';
const M_QUEST = '\uE004';
const M_LBRACK = '\uE005';
const M_TILDE = '\uE006';
const MARK: Record<string, string> = { '{': M_LBRACE, ',': M_COMMA, '}': M_RBRACE, '*': M_STAR, '?': M_QUEST, '[': M_LBRACK };
const UNMARK: Record<string, string> = {
  [M_LBRACE]: '{',
  [M_COMMA]: ',',
  [M_RBRACE]: '}',
  [M_STAR]: '*',
  [M_QUEST]: '?',
  [M_LBRACK]: '[',
  [M_TILDE]: '~',
};
const MAX_CANDIDATES = 64;

const unmark = (s: string): string => s.replace(/[\uE000-\uE006]/g, (c) => UNMARK[c] ?? c);
// `[` is a pattern only when a `]` follows it.
const hasGlob = (s: string): boolean => /[\uE003\uE004]|\uE005.*\]/.test(s);

// Assigning these changes what later commands run or load.
const DANGEROUS_VARS = new Set([
  'PATH', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'BASH_ENV', 'ENV', 'IFS', 'PROMPT_COMMAND', 'SHELLOPTS', 'BASHOPTS',
  'PS4', 'GCONV_PATH', 'PYTHONSTARTUP', 'PYTHONPATH', 'PYTHONHOME', 'NODE_OPTIONS', 'NODE_PATH', 'PERL5OPT', 'PERL5LIB', 'RUBYOPT',
  'RUBYLIB', 'BASH_FUNC', 'CDPATH', 'GLOBIGNORE', 'BASH_LOADABLES_PATH', 'EXECIGNORE', 'HISTFILE',
]);
// awk program text that runs commands: system(), pipes to/from commands, coprocesses.
const AWK_EXEC = /\bsystem\s*\(|\|\s*(getline|&)|\|&|(print|printf)\b[^;}]*\|/;
// sed scripts that run commands: the `e` command, or the `e` flag of `s///`.
const SED_EXEC = /(^|[;{}\n]|[0-9$/!]\s*)\s*e(\s|;|$)|(^|[;{}\n\s])s(.)(?:(?!\4).)*\4(?:(?!\4).)*\4[a-zA-Z0-9]*e/;
// Options through which ordinary programs run other commands.
const EXEC_OPTIONS: Record<string, RegExp> = {
  tar: /^(--to-command|--use-compress-program|--checkpoint-action|--info-script|--new-volume-script|--rsh-command|-I|-F)(=|$)|^-[A-Za-z]*[IF][A-Za-z]*$/,
  zip: /^(-TT|--unzip-command)(=|$)/,
  rsync: /^(-e|--rsh|--rsync-path)(=|$)/,
  git: /^(--upload-pack|--receive-pack|--exec|-x|--extcmd|--tool|--config-env)(=|$)/,
};
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'rbash', 'yash', 'fish', 'csh', 'tcsh']);
// Parameters whose value is a number or otherwise never a path.
const NUMERIC_PARAMS = new Set(['?', '#', '$', '!', 'RANDOM', 'LINENO', 'SECONDS', 'PPID', 'UID', 'EUID', 'BASHPID', 'OPTIND', 'COLUMNS', 'LINES']);

interface Wrapper {
  /** Options that take a separate value. */
  valued: string[];
  /** Positional arguments before the command (timeout's duration). */
  skip: number;
  /** env: NAME=VALUE arguments before the command. */
  assigns?: boolean;
  /** command/type/hash with -v/-V: a lookup, nothing runs. */
  lookupFlags?: string[];
}
const WRAPPERS: Record<string, Wrapper> = {
  env: { valued: ['-u', '--unset', '-C', '--chdir', '-S', '--split-string'], skip: 0, assigns: true },
  command: { valued: [], skip: 0, lookupFlags: ['-v', '-V'] },
  builtin: { valued: [], skip: 0 },
  exec: { valued: ['-a'], skip: 0 },
  nice: { valued: ['-n', '--adjustment'], skip: 0 },
  nohup: { valued: [], skip: 0 },
  timeout: { valued: ['-s', '--signal', '-k', '--kill-after'], skip: 1 },
  stdbuf: { valued: ['-i', '-o', '-e', '--input', '--output', '--error'], skip: 0 },
  time: { valued: ['-f', '--format', '-o', '--output'], skip: 0 },
  setsid: { valued: [], skip: 0 },
  ionice: { valued: ['-c', '-n', '-p', '--class', '--classdata'], skip: 0 },
  taskset: { valued: [], skip: 1 },
  xargs: { valued: ['-I', '-i', '-n', '-L', '-l', '-P', '-s', '-d', '-E', '-e', '-a', '--arg-file', '--delimiter', '--max-args', '--max-procs', '--replace', '--max-lines', '--max-chars', '--eof'], skip: 0 },
  busybox: { valued: [], skip: 0 },
  chronic: { valued: [], skip: 0 },
  flock: { valued: ['-w', '--timeout', '-E', '--conflict-exit-code'], skip: 1 },
};

export interface AnalyzeOptions {
  /** Resolves symlinks on the guest; defaults to fs.realpathSync on the longest existing prefix. */
  realpath?: (p: string) => string | undefined;
}

function defaultRealpath(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

const within = (p: string, root: string): boolean => root === '/' || p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);

/** Decide on `command` run in `workdir` (a sandbox path) under `policy`. Pure apart from symlink lookups. */
export function analyzeCommand(command: string, workdir: string, policy: PepPolicy, opts: AnalyzeOptions = {}): Decision {
  const a = new Analyzer(policy, opts.realpath ?? defaultRealpath, workdir);
  try {
    if (command.trim() === '') throw new Deny('command.empty', 'the command is empty');
    if (Buffer.byteLength(command) > policy.shell.maxCommandBytes) {
      throw new Deny('shell.too_long', `the command is longer than ${policy.shell.maxCommandBytes} bytes`);
    }
    if (command.includes('\0')) throw new Deny('shell.nul_byte', 'the command contains a NUL byte');
    const lowered = command.toLowerCase();
    for (const s of policy.shell.legacyDenySubstrings) {
      if (lowered.includes(s.toLowerCase())) throw new Deny('command.deny_pattern', `the command contains the denied pattern ${JSON.stringify(s)}`);
    }
    a.script(command, 0);
    return { decision: 'allow', ruleId: 'allow', reason: `every program is allowed: ${a.programs.join(', ') || '(none)'}`, programs: a.programs };
  } catch (err) {
    if (err instanceof Deny) return { decision: 'deny', ruleId: err.ruleId, reason: err.message, programs: a.programs };
    // Anything unexpected (e.g. the parser exhausting its stack on pathological nesting) is a denial too.
    return { decision: 'deny', ruleId: 'shell.analysis_error', reason: `the command could not be analysed: ${err instanceof Error ? err.name : 'error'}`, programs: a.programs };
  }
}

class Analyzer {
  readonly programs: string[] = [];
  private readonly interpreters: { match: (name: string) => boolean; spec: PepPolicy['interpreters'][number] }[];

  private readonly policy: PepPolicy;
  private readonly realpath: (p: string) => string | undefined;
  private readonly workdir: string;

  constructor(policy: PepPolicy, realpath: (p: string) => string | undefined, workdir: string) {
    this.policy = policy;
    this.realpath = realpath;
    this.workdir = workdir;
    this.interpreters = policy.interpreters.map((spec) => {
      const re = spec.program.startsWith('^') ? new RegExp(spec.program) : undefined;
      return { spec, match: (n: string) => (re ? re.test(n) : n === spec.program) };
    });
  }

  /** Analyse one script (the top-level command, or an `sh -c`/`eval` string) in its own variable scope. */
  script(src: string, depth: number): void {
    if (depth > this.policy.shell.maxDepth) throw new Deny('shell.too_deep', `nesting deeper than ${this.policy.shell.maxDepth} (sh -c / eval / substitutions)`);
    let file: ShFile;
    try {
      file = parseShell(src);
    } catch (err) {
      if (err instanceof ShellParseError) throw new Deny('shell.parse_error', `the shell parser cannot parse the command: ${err.message}`);
      throw err;
    }
    new Scope(this, file, depth).run();
  }

  addProgram(p: string): void {
    if (this.programs.length < 256 && !this.programs.includes(p)) this.programs.push(p);
  }

  get pol(): PepPolicy {
    return this.policy;
  }
  get rp(): (p: string) => string | undefined {
    return this.realpath;
  }
  link(p: string): string | undefined {
    try {
      return readlinkSync(p);
    } catch {
      return undefined;
    }
  }
  get wd(): string {
    return this.workdir;
  }
  interpreter(name: string): PepPolicy['interpreters'][number] | undefined {
    return this.interpreters.find((i) => i.match(name))?.spec;
  }
}

/** One script's analysis: a flow-insensitive variable table and set of possible working directories. */
class Scope {
  private readonly vars = new Map<string, Set<string> | typeof UNKNOWN>();
  private readonly funcs = new Set<string>();
  private readonly cwds = new Set<string>();
  private cwdUnknown = false;

  private readonly a: Analyzer;
  private readonly file: ShFile;
  private readonly depth: number;

  constructor(a: Analyzer, file: ShFile, depth: number) {
    this.a = a;
    this.file = file;
    this.depth = depth;
    this.cwds.add(a.wd);
  }

  run(): void {
    this.collect();
    walk(this.file, (n) => {
      if (!n) return true;
      switch (nodeType(n)) {
        case 'Stmt':
          this.lastStmt = n as Stmt;
          this.stmt(n as Stmt);
          return true;
        case 'CallExpr':
          this.call(n as CallExpr);
          return true;
        case 'DeclClause':
          this.decl(n as DeclClause);
          return true;
        case 'ForClause': {
          const loop = (n as ForClause).Loop;
          if (nodeType(loop) === 'WordIter') for (const w of (loop as WordIter).Items) this.pathArg(this.word(w), 'for-loop item');
          return true;
        }
        case 'CoprocClause':
          throw new Deny('program.denied', 'coproc is not allowed');
        default:
          return true;
      }
    });
  }

  // ---- pass 1: what every variable may hold, which functions exist, where cd may go ----

  private collect(): void {
    const assignValues = (name: string, vals: Values): void => {
      const cur = this.vars.get(name);
      if (cur === UNKNOWN) return;
      if (vals === UNKNOWN) {
        this.vars.set(name, UNKNOWN);
        return;
      }
      const set = cur ?? new Set<string>();
      for (const v of vals) set.add(v);
      this.vars.set(name, set.size > MAX_CANDIDATES ? UNKNOWN : set);
    };
    const fromAssign = (as: Assign): void => {
      if (!as.Name || as.Naked) return;
      if (as.Index) return assignValues(as.Name.Value, UNKNOWN);
      if (as.Array) return assignValues(as.Name.Value, this.arrayValues(as.Array));
      assignValues(as.Name.Value, as.Value ? this.wordRaw(as.Value) : ['']);
    };
    // Several rounds so that a=$b; b=x settles (a value that depends on an unknown stays unknown).
    for (let round = 0; round < 3; round++) {
      walk(this.file, (n) => {
        if (!n) return true;
        const t = nodeType(n);
        if (t === 'Assign') fromAssign(n as Assign);
        else if (t === 'FuncDecl') this.funcs.add((n as FuncDecl).Name.Value);
        else if (t === 'ForClause') {
          const loop = (n as ForClause).Loop;
          if (nodeType(loop) === 'WordIter') {
            const it = loop as WordIter;
            if (!hasInKeyword(it)) assignValues(it.Name.Value, UNKNOWN);
            else {
              const all: string[] = [];
              let unknown = false;
              for (const w of it.Items) {
                const v = this.wordRaw(w);
                if (v === UNKNOWN) unknown = true;
                else all.push(...v);
              }
              assignValues(it.Name.Value, unknown ? UNKNOWN : all);
            }
          }
        } else if (t === 'ParamExp') {
          const pe = n as ParamExp;
          // ${x:=v} / ${x=v} assign; anything fancy makes x unknown.
          if (pe.Exp && pe.Param) assignValues(pe.Param.Value, UNKNOWN);
        } else if (t === 'CallExpr') {
          const args = (n as CallExpr).Args;
          const head = args[0] ? this.staticLit(args[0]) : undefined;
          // Builtins that assign to the names they are given.
          if (head && ['read', 'mapfile', 'readarray', 'printf', 'getopts', 'select', 'let'].includes(head)) {
            for (const w of args.slice(1)) {
              const s = this.staticLit(w);
              if (s && /^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) assignValues(s, UNKNOWN);
            }
            if (head === 'read' || head === 'mapfile' || head === 'readarray') {
              assignValues('REPLY', UNKNOWN);
              assignValues('MAPFILE', UNKNOWN);
            }
          }
          if (head === 'cd' || head === 'pushd' || head === 'popd') this.cdTargets(args.slice(1));
        }
        return true;
      });
    }
  }

  private cdTargets(args: Word[]): void {
    const rest = args.filter((w) => {
      const s = this.staticLit(w);
      return !(s && /^-[LPe@]+$/.test(s));
    });
    if (rest.length === 0) {
      this.cwds.add(this.a.pol.workspace.mountTarget);
      return;
    }
    const vals = this.wordRaw(rest[0] as Word);
    if (vals === UNKNOWN) {
      this.cwdUnknown = true;
      return;
    }
    for (const v of vals) {
      const s = unmark(v);
      if (s === '-' || hasGlob(v)) this.cwdUnknown = true;
      else for (const base of [...this.cwds]) this.cwds.add(this.resolve(s, base));
    }
  }

  // ---- words ----

  /** Static text of a word with no expansions at all, else undefined. */
  private staticLit(w: Word): string | undefined {
    const v = this.wordRaw(w, false);
    return v !== UNKNOWN && v.length === 1 && !/[\uE000-\uE006]/.test(v[0] as string) ? v[0] : undefined;
  }

  /** Possible values of a word (with unquoted glob/brace characters marked), UNKNOWN when not knowable. */
  private wordRaw(w: Word, useVars = true): Values {
    let acc: string[] = [''];
    const parts = w.Parts;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as ShNode;
      const vals = this.part(part, false, useVars, i === 0);
      if (vals === UNKNOWN) return UNKNOWN;
      const next: string[] = [];
      for (const x of acc) for (const y of vals) next.push(x + y);
      if (next.length > MAX_CANDIDATES) return UNKNOWN;
      acc = next;
    }
    return braceExpand(acc);
  }

  /** A word's values with markers removed (globs still count as globs through hasGlob on raw). */
  word(w: Word): { raw: Values } {
    return { raw: this.wordRaw(w) };
  }

  private part(n: ShNode, quoted: boolean, useVars: boolean, first: boolean): Values {
    switch (nodeType(n)) {
      case 'Lit': {
        const v = (n as Lit).Value;
        return [quoted ? unescapeDouble(v) : unescapeUnquoted(v, first)];
      }
      case 'SglQuoted': {
        const q = n as SglQuoted;
        if (!q.Dollar) return [q.Value];
        const d = decodeAnsiC(q.Value);
        return d === undefined ? UNKNOWN : [d];
      }
      case 'DblQuoted': {
        let acc: string[] = [''];
        for (const p of (n as DblQuoted).Parts) {
          const vals = this.part(p, true, useVars, false);
          if (vals === UNKNOWN) return UNKNOWN;
          const next: string[] = [];
          for (const x of acc) for (const y of vals) next.push(x + y);
          if (next.length > MAX_CANDIDATES) return UNKNOWN;
          acc = next;
        }
        return acc;
      }
      case 'ParamExp': {
        if (!useVars) return UNKNOWN;
        const pe = n as ParamExp;
        if (!pe.Param) return UNKNOWN;
        const name = pe.Param.Value;
        if (pe.Length) return ['0'];
        if (pe.Excl || pe.Slice || pe.Repl || pe.Exp || pe.Width || pe.Names) return UNKNOWN;
        if (NUMERIC_PARAMS.has(name)) return ['0'];
        if (pe.Index) {
          const v = this.vars.get(name);
          return v === undefined || v === UNKNOWN ? UNKNOWN : [...v];
        }
        if (name === 'HOME') return [this.a.pol.workspace.mountTarget];
        if (name === 'PWD' && !this.cwdUnknown) return [...this.cwds];
        const v = this.vars.get(name);
        if (v === undefined || v === UNKNOWN) return UNKNOWN;
        // Unquoted expansions are word-split and globbed: refuse values that would split into words.
        return [...v].map((s) => (quoted ? s : s.replace(/[*?[]/g, (c) => MARK[c] ?? c)));
      }
      case 'ArithmExp':
        return ['0'];
      case 'ProcSubst':
        // Becomes a /dev/fd/N path; the commands inside are checked where the walk reaches them.
        return ['/dev/fd/63'];
      case 'CmdSubst':
      case 'ExtGlob':
      case 'BraceExp':
      default:
        return UNKNOWN;
    }
  }

  private arrayValues(arr: ArrayExpr): Values {
    const out: string[] = [];
    for (const el of arr.Elems) {
      if (el.Index || !el.Value) return UNKNOWN;
      const v = this.wordRaw(el.Value);
      if (v === UNKNOWN) return UNKNOWN;
      out.push(...v.map(unmark));
    }
    return out;
  }

  // ---- statements ----

  private stmt(s: Stmt): void {
    for (const r of s.Redirs) this.redirect(r, s);
  }

  private redirect(r: Redirect, s: Stmt): void {
    const op = redirectOp(r.Op);
    if (op === '<<' || op === '<<-' || op === '<<<') return; // content, not a path (checked where a shell reads it)
    if (!r.Word) return;
    const vals = this.wordRaw(r.Word);
    if ((op === '>&' || op === '<&') && vals !== UNKNOWN && vals.every((v) => /^[0-9]+-?$|^-$/.test(v))) return;
    if (vals === UNKNOWN) throw new Deny('shell.dynamic_redirect', 'a redirect target is not known before running (expansion or substitution)');
    void s;
    for (const v of vals) this.checkPath(unmark(v), hasGlob(v), 'redirect target', true);
  }

  private decl(d: DeclClause): void {
    for (const as of d.Args) {
      if (as.Name && DANGEROUS_VARS.has(as.Name.Value)) {
        throw new Deny('shell.dangerous_assignment', `assigning ${as.Name.Value} changes what later commands run`);
      }
      if (as.Naked && as.Value) {
        const flag = this.staticLit(as.Value);
        if (flag && /^[-+][a-zA-Z]*f/.test(flag)) throw new Deny('shell.function_export', `${d.Variant.Value} ${flag} (exporting functions) is not allowed`);
      }
      if (as.Value && !as.Naked) this.staticPathArg(as.Value);
    }
  }

  /** An assigned value: an unknown one is harmless until used (its uses are checked); a known one is a path check. */
  private staticPathArg(w: Word): void {
    const v = this.wordRaw(w);
    if (v !== UNKNOWN) this.pathArg({ raw: v }, 'assigned value');
  }

  private call(c: CallExpr): void {
    for (const as of c.Assigns) {
      if (as.Name && (DANGEROUS_VARS.has(as.Name.Value) || as.Name.Value.startsWith('BASH_FUNC'))) {
        throw new Deny('shell.dangerous_assignment', `assigning ${as.Name.Value} changes what later commands run`);
      }
      if (as.Value) this.staticPathArg(as.Value);
    }
    if (c.Args.length === 0) return;
    const argv: Values[] = c.Args.map((w) => this.wordRaw(w));
    const heredoc = this.stdinScript(c);
    this.command(argv, heredoc, 0);
  }

  /** The here-doc / here-string text fed to this call's stdin, when static. */
  private stdinScript(c: CallExpr): { text?: string; present: boolean } {
    // The parent Stmt holds the redirects; mvdan/sh keeps them on the Stmt, so look it up through the file.
    const stmt = this.stmtOf(c);
    if (!stmt) return { present: false };
    for (const r of stmt.Redirs) {
      const op = redirectOp(r.Op);
      if (op === '<<' || op === '<<-') {
        if (!r.Hdoc) return { present: true, text: '' };
        const v = this.wordRaw(r.Hdoc);
        return v === UNKNOWN || v.length !== 1 ? { present: true } : { present: true, text: unmark(v[0] as string) };
      }
      if (op === '<<<' && r.Word) {
        const v = this.wordRaw(r.Word);
        return v === UNKNOWN || v.length !== 1 ? { present: true } : { present: true, text: unmark(v[0] as string) };
      }
      if (op === '<' || op === '<>') return { present: true };
    }
    return { present: false };
  }

  /** syntax.Walk visits a Stmt and then, first, its Cmd: the last Stmt seen is the call's parent. */
  private lastStmt?: Stmt;
  private stmtOf(c: CallExpr): Stmt | undefined {
    void c;
    return this.lastStmt;
  }

  /** Checks one command line: argv values, what feeds its stdin, unwrapping nesting up to a bound. */
  private command(argv: Values[], stdin: { text?: string; present: boolean }, nest: number): void {
    if (nest > 8) throw new Deny('shell.too_deep', 'too many nested command wrappers');
    const head = argv[0];
    if (head === undefined) return;
    if (head === UNKNOWN) throw new Deny('shell.dynamic_command', 'the command name is not known before running (expansion or substitution)');
    for (const raw of head) {
      if (hasGlob(raw) || /[\uE000-\uE002]/.test(raw)) throw new Deny('shell.dynamic_command', `the command name ${JSON.stringify(unmark(raw))} is a pattern`);
    }
    for (const raw of head) this.program(unmark(raw), argv.slice(1), stdin, nest);
  }

  private program(name0: string, args: Values[], stdin: { text?: string; present: boolean }, nest: number): void {
    const pol = this.a.pol;
    if (name0 === '') throw new Deny('shell.dynamic_command', 'the command name is empty');
    let name = name0;
    if (name0.includes('/')) {
      const resolved = this.resolvedCandidates(name0);
      for (const p of resolved) {
        const real = this.real(p);
        const inWorkspace = within(p, pol.workspace.mountTarget) && within(real, pol.workspace.mountTarget);
        if (inWorkspace) {
          if (pol.programs.workspaceExecutables !== 'allow') throw new Deny('program.workspace_executable', `running ${p} from the workspace is not allowed`);
          this.a.addProgram(p);
          this.checkArgs(p, args);
          return;
        }
        this.checkPath(real, false, 'program path', false);
        name = path.posix.basename(real);
      }
    } else if (nest === 0 && this.funcs.has(name0)) {
      this.a.addProgram(`${name0}()`);
      this.checkArgs(name0, args);
      return;
    }
    const base = name;
    if (pol.network.tools.includes(base)) throw new Deny('network.tool', `${base} is a network client (network.tools)`);
    if (pol.programs.deny.includes(base)) throw new Deny('program.denied', `${base} is a denied program`);
    if (pol.programs.default === 'deny' && !pol.programs.allow.includes(base)) {
      throw new Deny('program.not_allowed', `${base} is not on the allowed program list`);
    }
    this.a.addProgram(base);

    const argVals = args;
    // Special programs.
    if (SHELLS.has(base)) return this.shell(base, argVals, stdin);
    if (base === 'eval') return this.evalLike('eval', argVals);
    if (base === 'trap') {
      const first = argVals[0];
      if (first === undefined || argVals.length === 1) return;
      if (first === UNKNOWN) throw new Deny('shell.dynamic_eval', 'trap with a code string not known before running');
      for (const v of first) if (!v.startsWith('-')) this.a.script(unmark(v), this.depth + 1);
      return;
    }
    if (base === 'source' || base === '.') {
      const f = argVals[0];
      if (f === undefined || f === UNKNOWN) throw new Deny('shell.dynamic_argument', `${base} needs a known file`);
      for (const v of f) this.scriptPath(unmark(v), hasGlob(v), base);
      return;
    }
    if (base === 'cd' || base === 'pushd') {
      this.checkArgs(base, argVals);
      return;
    }
    if (base === 'find') return this.find(argVals, stdin, nest);
    this.execOptions(base, argVals);
    const wrapper = WRAPPERS[base];
    if (wrapper) return this.wrapper(base, wrapper, argVals, stdin, nest);
    const interp = this.a.interpreter(base);
    if (interp) return this.interpreterCall(base, interp, argVals, stdin);
    this.checkArgs(base, withoutPatternArg(base, argVals));
  }

  /** Options that make an ordinary program run another command (tar --to-command, git -c core.sshCommand, sed e). */
  private execOptions(base: string, args: Values[]): void {
    const re = EXEC_OPTIONS[base];
    for (let i = 0; i < args.length; i++) {
      const a = args[i] as Values;
      if (a === UNKNOWN) continue;
      for (const raw of a) {
        const v = unmark(raw);
        if (re?.test(v)) throw new Deny('program.exec_option', `${base} ${v.split('=')[0]} runs another command`);
        if (base === 'git' && (v === '-c' || v.startsWith('-c'))) {
          const cfg = v === '-c' ? args[i + 1] : [v.slice(2)];
          if (cfg === undefined || cfg === UNKNOWN) throw new Deny('shell.dynamic_argument', 'git -c needs a known value');
          for (const c of cfg) {
            const t = unmark(c);
            if (/=\s*!|sshcommand|pager|editor|askpass|fsmonitor|hookspath|proxy|\.command|credential\.helper|textconv|filter\./i.test(t)) {
              throw new Deny('program.exec_option', `git -c ${t.split('=')[0]} runs another command`);
            }
          }
        }
        if ((base === 'sed' || base === 'gsed') && !v.startsWith('-') && i === 0) {
          if (SED_EXEC.test(v)) throw new Deny('interpreter.sed_exec', `${base} script runs commands (the e command or flag)`);
        }
        if ((base === 'sed' || base === 'gsed') && (v === '-e' || v === '--expression')) {
          const sc = args[i + 1];
          if (sc !== undefined && sc !== UNKNOWN) for (const x of sc) if (SED_EXEC.test(unmark(x))) throw new Deny('interpreter.sed_exec', `${base} script runs commands (the e command or flag)`);
        }
        if ((base === 'sed' || base === 'gsed') && v.startsWith('--expression=') && SED_EXEC.test(v.slice(13))) {
          throw new Deny('interpreter.sed_exec', `${base} script runs commands (the e command or flag)`);
        }
      }
    }
  }

  private shell(base: string, args: Values[], stdin: { text?: string; present: boolean }): void {
    let i = 0;
    for (; i < args.length; i++) {
      const a = args[i] as Values;
      if (a === UNKNOWN) throw new Deny('shell.dynamic_argument', `${base} with an argument not known before running`);
      const v = unmark(a[0] ?? '');
      if (a.length !== 1) throw new Deny('shell.dynamic_argument', `${base} with a brace-expanded option`);
      if (v === '-o' || v === '+o' || v === '-O' || v === '+O' || v === '--rcfile' || v === '--init-file') {
        i++;
        continue;
      }
      if (/^-[a-zA-Z]*c[a-zA-Z]*$/.test(v)) {
        const code = args[i + 1];
        if (code === undefined) throw new Deny('shell.parse_error', `${base} -c without a command string`);
        if (code === UNKNOWN) throw new Deny('shell.dynamic_eval', `${base} -c with a command string not known before running`);
        for (const c of code) this.a.script(unmark(c), this.depth + 1);
        return;
      }
      if (v === '-s' || v === '-') break;
      if (v.startsWith('-') || v.startsWith('+')) continue;
      // A script file.
      this.scriptPath(v, hasGlob(a[0] as string), base);
      return;
    }
    // Reads its script from stdin.
    if (stdin.text !== undefined) return this.a.script(stdin.text, this.depth + 1);
    throw new Deny('shell.stdin_script', `${base} would read commands from stdin (a pipe or file the analyser cannot see)`);
  }

  private evalLike(what: string, args: Values[]): void {
    const parts: string[] = [];
    for (const a of args) {
      if (a === UNKNOWN || a.length !== 1) throw new Deny('shell.dynamic_eval', `${what} with a string not known before running`);
      parts.push(unmark(a[0] as string));
    }
    this.a.script(parts.join(' '), this.depth + 1);
  }

  private wrapper(base: string, w: Wrapper, args: Values[], stdin: { text?: string; present: boolean }, nest: number): void {
    let i = 0;
    let skip = w.skip;
    for (; i < args.length; i++) {
      const a = args[i] as Values;
      if (a === UNKNOWN) throw new Deny('shell.dynamic_command', `${base} runs a command not known before running`);
      const v = unmark(a[0] ?? '');
      if (w.lookupFlags?.includes(v)) return; // command -v x: a lookup
      if (v === '--') {
        i++;
        break;
      }
      if (v.startsWith('-') && v.length > 1) {
        if (w.valued.includes(v)) i++;
        if (base === 'env' && (v === '-S' || v === '--split-string' || v.startsWith('--split-string=') || v.startsWith('-S'))) {
          throw new Deny('shell.dynamic_command', 'env -S splits a string into a command line');
        }
        continue;
      }
      if (w.assigns && /^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) {
        const nm = v.slice(0, v.indexOf('='));
        if (DANGEROUS_VARS.has(nm) || nm.startsWith('BASH_FUNC')) throw new Deny('shell.dangerous_assignment', `env ${nm}=… changes what the command runs`);
        continue;
      }
      if (skip > 0) {
        skip--;
        continue;
      }
      break;
    }
    const inner = args.slice(i);
    if (inner.length === 0) return; // env alone prints, xargs alone echoes, nohup alone fails
    this.command(inner, stdin, nest + 1);
  }

  private find(args: Values[], stdin: { text?: string; present: boolean }, nest: number): void {
    const plain: Values[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i] as Values;
      const v = a === UNKNOWN ? undefined : unmark(a[0] ?? '');
      if (v === '-exec' || v === '-execdir' || v === '-ok' || v === '-okdir') {
        const inner: Values[] = [];
        for (i++; i < args.length; i++) {
          const b = args[i] as Values;
          if (b !== UNKNOWN && (b[0] === ';' || b[0] === '+')) break;
          inner.push(b !== UNKNOWN && b[0] === '{}' ? ['{}'] : b);
        }
        this.command(inner, stdin, nest + 1);
        continue;
      }
      if (v === '-fprint' || v === '-fprintf' || v === '-fls' || v === '-fprint0') {
        const f = args[i + 1];
        if (f === undefined || f === UNKNOWN) throw new Deny('shell.dynamic_argument', `find ${v} needs a known file`);
        for (const x of f) this.checkPath(unmark(x), hasGlob(x), 'find output file', true);
        i++;
        continue;
      }
      if (v === '-delete') continue;
      if (v !== undefined && v.startsWith('-')) {
        // Test options take a pattern or number, not a path (-name '*.c', -mtime 3).
        i++;
        continue;
      }
      plain.push(a);
    }
    this.checkArgs('find', plain);
  }

  private interpreterCall(base: string, spec: PepPolicy['interpreters'][number], args: Values[], stdin: { text?: string; present: boolean }): void {
    const rest: Values[] = [];
    let script = false;
    for (let i = 0; i < args.length; i++) {
      const a = args[i] as Values;
      if (a === UNKNOWN) {
        if (script) {
          rest.push(a);
          continue;
        }
        throw new Deny('shell.dynamic_argument', `${base} with an argument not known before running`);
      }
      const v = unmark(a[0] ?? '');
      if (!script && v.startsWith('-') && v !== '-') {
        const isInline = spec.inlineFlags.some((f) =>
          f.startsWith('--') ? v === f || v.startsWith(`${f}=`) : v === f || (/^-[A-Za-z]+$/.test(v) && v.includes(f.slice(1))),
        );
        if (isInline) throw new Deny('interpreter.inline_code', `${base} ${v}: inline code is its own rule and is not allowed`);
        if (spec.awkProgram && (v === '-f' || v.startsWith('--file'))) {
          const f = args[i + 1];
          if (f === undefined || f === UNKNOWN) throw new Deny('shell.dynamic_argument', `${base} -f needs a known file`);
          for (const x of f) this.checkPath(unmark(x), hasGlob(x), `${base} program file`, true);
          i++;
          script = true;
          continue;
        }
        if (spec.awkProgram && (v === '-e' || v === '--source' || v.startsWith('--source='))) {
          // gawk program text given as an option value.
          const text = v.startsWith('--source=') ? [v.slice('--source='.length)] : args[++i];
          if (text === undefined || text === UNKNOWN) throw new Deny('shell.dynamic_argument', `${base} ${v} needs a known program`);
          for (const x of text) if (AWK_EXEC.test(unmark(x))) throw new Deny('interpreter.awk_command', `${base} program runs commands (system(), pipes)`);
          script = true;
          continue;
        }
        if (spec.awkProgram && ['-v', '-F', '--assign', '--field-separator'].includes(v)) i++;
        if (base.startsWith('python') && (v === '-m' || v === '-W' || v === '-X' || v === '-Q')) {
          i++;
          if (v === '-m') script = true;
        }
        continue;
      }
      if (!script) {
        if (v === '-') break; // the script is stdin
        script = true;
        if (spec.awkProgram) {
          for (const x of a) {
            const prog = unmark(x);
            if (AWK_EXEC.test(prog)) {
              throw new Deny('interpreter.awk_command', `${base} program runs commands (system(), pipes)`);
            }
          }
          continue;
        }
        this.scriptPath(v, hasGlob(a[0] as string), base);
        continue;
      }
      rest.push(a);
    }
    const infoOnly = args.some((a) => a !== UNKNOWN && a.length === 1 && ['--version', '-V', '--help', '-h', '-v', '-version'].includes(unmark(a[0] as string)));
    if (!script && spec.stdinCode && !infoOnly) {
      throw new Deny('interpreter.stdin_code', `${base} would read code from stdin${stdin.present ? ' (here-doc, here-string or redirect)' : ''}`);
    }
    this.checkArgs(base, rest);
  }

  // ---- paths ----

  /** A script a shell/interpreter/source reads: a path check, and never a device or pipe (/dev/stdin, <(…)). */
  private scriptPath(p: string, glob: boolean, base: string): void {
    const resolved = p.startsWith('/') ? path.posix.normalize(p) : p;
    if (/^\/(dev|proc)(\/|$)/.test(resolved)) {
      throw new Deny('shell.stdin_script', `${base} would read its code from ${resolved} (a pipe or device the analyser cannot see)`);
    }
    this.checkPath(p, glob, `${base} script`, true);
  }

  private checkArgs(prog: string, args: Values[]): void {
    const nonPath = this.a.pol.programs.nonPathArguments.includes(prog);
    for (const a of args) {
      if (a === UNKNOWN) {
        if (nonPath || this.a.pol.shell.dynamicArguments === 'allow') continue;
        throw new Deny('shell.dynamic_argument', `an argument of ${prog} is not known before running (expansion or substitution)`);
      }
      if (nonPath) continue;
      this.pathArg({ raw: a }, `${prog} argument`);
    }
  }

  private pathArg(w: { raw: Values }, what: string): void {
    if (w.raw === UNKNOWN) {
      if (this.a.pol.shell.dynamicArguments === 'allow') return;
      throw new Deny('shell.dynamic_argument', `a ${what} is not known before running (expansion or substitution)`);
    }
    for (const raw of w.raw) {
      let v = unmark(raw);
      let rawV = raw;
      if (v.startsWith('-')) {
        const eq = v.indexOf('=');
        if (eq < 0) continue;
        v = v.slice(eq + 1);
        rawV = raw.slice(raw.indexOf('=') + 1);
      } else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) {
        // make VAR=/path, git -c key=/path: the value may be a path.
        v = v.slice(v.indexOf('=') + 1);
        rawV = raw.slice(raw.indexOf('=') + 1);
      }
      const pathLike = v.includes('/') || v === '..' || v.startsWith('~') || rawV.startsWith(M_TILDE);
      if (pathLike) {
        this.checkPath(v, hasGlob(rawV), what, true);
        continue;
      }
      // A plain name: it may be a symlink in the working directory.
      if (v !== '' && !hasGlob(rawV)) {
        for (const cwd of this.cwds) {
          const p = this.resolve(v, cwd);
          const real = this.real(p);
          if (real !== p) this.checkPath(real, false, `${what} (symlink ${v})`, true);
        }
      }
    }
  }

  private resolve(p: string, base: string): string {
    const ws = this.a.pol.workspace.mountTarget;
    let q = p;
    if (q === '~' || q.startsWith('~/')) q = ws + q.slice(1);
    else if (q.startsWith('~')) throw new Deny('path.outside_roots', `${p}: another user's home directory`);
    return path.posix.resolve(base, q);
  }

  private resolvedCandidates(p: string): string[] {
    if (p.startsWith('/') || p.startsWith('~')) return [this.resolve(p, '/')];
    if (this.cwdUnknown) throw new Deny('path.unknown_cwd', `${p} is relative and the working directory is not known (cd to an expansion)`);
    return [...this.cwds].map((c) => this.resolve(p, c));
  }

  /** Resolves symlinks of a sandbox path through the workspace's host location. */
  private real(p: string): string {
    const { hostPath, mountTarget } = this.a.pol.workspace;
    const inWs = within(p, mountTarget);
    const host = inWs ? hostPath + p.slice(mountTarget.length) : p;
    // Walk up to the longest existing prefix, so a not-yet-created file under a symlinked dir is caught.
    let cur = host;
    let tail = '';
    for (let guard = 0; guard < 256; guard++) {
      const r = this.a.rp(cur);
      if (r === undefined) {
        // A dangling symlink still names where it points.
        const link = this.a.link(cur);
        if (link !== undefined) {
          cur = path.posix.resolve(path.posix.dirname(cur), link);
          continue;
        }
      }
      if (r !== undefined) {
        const full = tail ? path.posix.join(r, tail) : r;
        if (within(full, hostPath)) return mountTarget + full.slice(hostPath.length);
        return full;
      }
      if (cur === '/' || cur === '') break;
      tail = tail ? path.posix.join(path.posix.basename(cur), tail) : path.posix.basename(cur);
      cur = path.posix.dirname(cur);
    }
    return p;
  }

  private checkPath(p: string, glob: boolean, what: string, resolveLinks: boolean): void {
    let cands: string[];
    if (!glob && (this.a.pol.paths.devices.includes(p) || /^\/dev\/fd\/[0-9]+$/.test(p))) return;
    if (glob) {
      // A pattern: check the static directory prefix before the first pattern component.
      const comps = p.split('/');
      const idx = comps.findIndex((c) => /[*?[]/.test(c));
      const prefix = comps.slice(0, Math.max(idx, 0)).join('/') || (p.startsWith('/') ? '/' : '.');
      const rest = comps.slice(Math.max(idx, 0));
      cands = this.resolvedCandidates(prefix);
      for (const c of cands) this.checkOne(c, `${what} pattern ${p}`, rest);
      for (const c of cands) this.checkOne(resolveLinks ? this.real(c) : c, `${what} pattern ${p}`, rest);
      return;
    }
    cands = this.resolvedCandidates(p);
    for (const c of cands) {
      this.checkOne(c, `${what} ${p}`);
      if (resolveLinks) {
        const r = this.real(c);
        if (r !== c) this.checkOne(r, `${what} ${p} (resolves to ${r})`);
      }
    }
  }

  /** `pattern`: for a glob, the pattern's components after the static prefix `p`. */
  private checkOne(p: string, what: string, pattern?: string[]): void {
    const pol = this.a.pol.paths;
    if (pol.devices.includes(p) || /^\/dev\/fd\/[0-9]+$/.test(p)) return;
    for (const d of pol.deniedPrefixes) {
      if (within(p, d)) throw new Deny('path.denied', `${what}: ${p} is under the denied prefix ${d}`);
      // A pattern whose static prefix is a parent of a denied prefix may match into it.
      if (pattern && within(d, p) && d !== p && patternMayReach(pattern, d.slice(p === '/' ? 1 : p.length + 1).split('/'))) {
        throw new Deny('path.denied', `${what}: the pattern can match under the denied prefix ${d}`);
      }
    }
    if (!pol.allowedRoots.some((r) => within(p, r))) throw new Deny('path.outside_roots', `${what}: ${p} is outside the allowed roots`);
  }
}

// ---- lexical helpers ----

const PATTERN_FIRST: Record<string, string[]> = {
  sed: ['-l', '--line-length'],
  gsed: ['-l', '--line-length'],
  grep: ['-m', '-A', '-B', '-C', '-d', '-D', '--max-count', '--context', '--after-context', '--before-context'],
  egrep: ['-m', '-A', '-B', '-C'],
  fgrep: ['-m', '-A', '-B', '-C'],
  rg: ['-m', '-A', '-B', '-C', '-g', '--glob', '-t', '--type', '-T', '--type-not', '-M', '-j'],
};

/** sed/grep take their script or pattern as the first operand (unless given by -e/-f): not a path. */
function withoutPatternArg(base: string, args: Values[]): Values[] {
  const valued = PATTERN_FIRST[base];
  if (!valued) return args;
  const given = args.some((a) => a !== UNKNOWN && a.some((x) => /^(-e|-f|--expression|--file|--regexp)(=|$)|^-[a-zA-Z]*[ef]$/.test(unmark(x))));
  if (given) return args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as Values;
    if (a === UNKNOWN) return args;
    const v = unmark(a[0] ?? '');
    if (v === '--') return [...args.slice(0, i), ...args.slice(i + 2)];
    if (v.startsWith('-') && v.length > 1) {
      if (valued.includes(v)) i++;
      continue;
    }
    return [...args.slice(0, i), ...args.slice(i + 1)];
  }
  return args;
}

/**
 * Whether glob components can match a path reaching into `target` components. Conservative: `**`,
 * bracket expressions or a pattern shorter than the target but ending in a glob all count as reaching.
 */
function patternMayReach(pattern: string[], target: string[]): boolean {
  for (let i = 0; i < pattern.length && i < target.length; i++) {
    const comp = pattern[i] as string;
    const name = target[i] as string;
    if (comp.includes('[') || comp.includes('**')) return true;
    if (name.startsWith('.') && !comp.startsWith('.')) return false; // globs skip dotfiles
    const re = new RegExp(`^${comp.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    if (!re.test(name)) return false;
  }
  return true;
}

/** `for x in …` (items given) versus `for x` (iterates the positional parameters). */
function hasInKeyword(it: WordIter): boolean {
  const pos = it.InPos as { IsValid?: () => boolean; Offset?: unknown };
  if (typeof pos.IsValid === 'function') return pos.IsValid();
  return it.Items.length > 0;
}

/** Unquoted literal: backslash escapes the next character; unquoted glob/brace characters are marked. */
function unescapeUnquoted(v: string, first: boolean): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i] as string;
    if (c === '\\') {
      const n = v[i + 1];
      if (n === '\n') i++;
      else if (n !== undefined) {
        out += n;
        i++;
      }
      continue;
    }
    if (c === '~' && i === 0 && first) out += M_TILDE;
    else out += MARK[c] ?? c;
  }
  return out;
}

/** Inside double quotes a backslash escapes only $ ` " \ and newline. */
function unescapeDouble(v: string): string {
  return v.replace(/\\([$`"\\\n])/g, (_, c: string) => (c === '\n' ? '' : c));
}

/** $'…' (ANSI-C quoting); undefined for escapes we do not decode. */
function decodeAnsiC(v: string): string | undefined {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = v[++i];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };
    if (n === undefined) return undefined;
    if (n in simple) {
      out += simple[n];
      continue;
    }
    let m: RegExpMatchArray | null;
    if (n === 'x' && (m = v.slice(i + 1).match(/^[0-9a-fA-F]{1,2}/))) {
      out += String.fromCharCode(parseInt(m[0], 16));
      i += m[0].length;
    } else if ((m = v.slice(i).match(/^[0-7]{1,3}/))) {
      out += String.fromCharCode(parseInt(m[0], 8));
      i += m[0].length - 1;
    } else if ((n === 'u' || n === 'U') && (m = v.slice(i + 1).match(n === 'u' ? /^[0-9a-fA-F]{1,4}/ : /^[0-9a-fA-F]{1,8}/))) {
      const cp = parseInt(m[0], 16);
      if (cp > 0x10ffff) return undefined;
      out += String.fromCodePoint(cp);
      i += m[0].length;
    } else return undefined;
  }
  return out;
}

/** Bash brace expansion on marked (unquoted) braces; bounded. */
function braceExpand(words: string[]): Values {
  const out: string[] = [];
  const stack = [...words];
  let steps = 0;
  while (stack.length > 0) {
    if (++steps > 4 * MAX_CANDIDATES) return UNKNOWN;
    const w = stack.pop() as string;
    const open = findBrace(w);
    if (!open) {
      out.push(w);
      if (out.length > MAX_CANDIDATES) return UNKNOWN;
      continue;
    }
    const { start, end, alts } = open;
    for (const alt of alts) stack.push(w.slice(0, start) + alt + w.slice(end + 1));
  }
  return out.reverse();
}

function findBrace(w: string): { start: number; end: number; alts: string[] } | undefined {
  for (let s = 0; s < w.length; s++) {
    if (w[s] !== M_LBRACE) continue;
    let depth = 0;
    const commas: number[] = [];
    for (let e = s; e < w.length; e++) {
      const c = w[e];
      if (c === M_LBRACE) depth++;
      else if (c === M_RBRACE) {
        depth--;
        if (depth === 0) {
          const body = w.slice(s + 1, e);
          if (commas.length > 0) {
            const alts: string[] = [];
            let prev = s + 1;
            for (const k of commas) {
              alts.push(w.slice(prev, k));
              prev = k + 1;
            }
            alts.push(w.slice(prev, e));
            return { start: s, end: e, alts };
          }
          const seq = body.match(/^(-?\d+|[a-zA-Z])\.\.(-?\d+|[a-zA-Z])$/);
          if (seq) {
            const [x, y] = [seq[1] as string, seq[2] as string];
            const num = /\d/.test(x);
            const from = num ? parseInt(x, 10) : x.charCodeAt(0);
            const to = num ? parseInt(y, 10) : y.charCodeAt(0);
            if (Math.abs(to - from) > MAX_CANDIDATES) return { start: s, end: e, alts: Array.from({ length: MAX_CANDIDATES + 2 }, () => '') };
            const alts: string[] = [];
            for (let k = from; from <= to ? k <= to : k >= to; k += from <= to ? 1 : -1) alts.push(num ? String(k) : String.fromCharCode(k));
            return { start: s, end: e, alts };
          }
          break;
        }
      } else if (c === M_COMMA && depth === 1) commas.push(e);
    }
  }
  return undefined;
}
