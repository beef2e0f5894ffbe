// Thin typed view of mvdan/sh's syntax tree (npm mvdan-sh: mvdan.cc/sh/v3/syntax compiled to JS).
// Only the fields the analyser reads are typed; everything else is reached through syntax.Walk.
import sh from 'mvdan-sh';

export interface ShNode {
  readonly __sh: unique symbol;
}
export interface Lit extends ShNode {
  Value: string;
}
export interface Word extends ShNode {
  Parts: ShNode[];
  Lit(): string;
}
export interface SglQuoted extends ShNode {
  Dollar: boolean;
  Value: string;
}
export interface DblQuoted extends ShNode {
  Dollar: boolean;
  Parts: ShNode[];
}
export interface ParamExp extends ShNode {
  Short: boolean;
  Excl: boolean;
  Length: boolean;
  Width: boolean;
  Param: Lit | null;
  Index: ShNode | null;
  Slice: ShNode | null;
  Repl: ShNode | null;
  Names: number;
  Exp: ShNode | null;
}
export interface ArrayElem extends ShNode {
  Index: ShNode | null;
  Value: Word | null;
}
export interface ArrayExpr extends ShNode {
  Elems: ArrayElem[];
}
export interface Assign extends ShNode {
  Append: boolean;
  Naked: boolean;
  Name: Lit | null;
  Index: ShNode | null;
  Value: Word | null;
  Array: ArrayExpr | null;
}
export interface Redirect extends ShNode {
  Op: number;
  N: Lit | null;
  Word: Word | null;
  Hdoc: Word | null;
}
export interface Stmt extends ShNode {
  Cmd: ShNode | null;
  Redirs: Redirect[];
}
export interface CallExpr extends ShNode {
  Assigns: Assign[];
  Args: Word[];
}
export interface DeclClause extends ShNode {
  Variant: Lit;
  Args: Assign[];
}
export interface WordIter extends ShNode {
  Name: Lit;
  InPos: { Offset(): number; IsValid(): boolean } | { Offset: number };
  Items: Word[];
}
export interface ForClause extends ShNode {
  Loop: ShNode;
}
export interface FuncDecl extends ShNode {
  Name: Lit;
}
export interface ShFile extends ShNode {
  Stmts: Stmt[];
}

interface SyntaxApi {
  NewParser(): { Parse(src: string, name: string): ShFile };
  Walk(node: ShNode, visit: (node: ShNode | null) => boolean): void;
  NodeType(node: ShNode): string;
}

const syntax = (sh as unknown as { syntax: SyntaxApi }).syntax;

export class ShellParseError extends Error {
  readonly code = 'PEP_SHELL_PARSE';
}

export function parseShell(src: string): ShFile {
  try {
    return syntax.NewParser().Parse(src, '');
  } catch (err) {
    const e = err as { Error?: () => string };
    const text = typeof e.Error === 'function' ? e.Error() : err instanceof Error ? err.message : 'unparseable';
    throw new ShellParseError(text.slice(0, 200));
  }
}

export const walk = (node: ShNode, visit: (node: ShNode | null) => boolean): void => syntax.Walk(node, visit);
export const nodeType = (node: ShNode): string => syntax.NodeType(node);

/** Redirect operator numbers, read from the parser itself (they are token constants of the Go package). */
let redirOps: Map<number, string> | undefined;
export function redirectOp(op: number): string {
  if (!redirOps) {
    redirOps = new Map();
    for (const o of ['>', '>>', '<', '<>', '>|', '&>', '&>>', '<&', '>&', '<<', '<<-', '<<<']) {
      const src = (o === '<<' || o === '<<-') ? `x ${o}E\nE\n` : `x ${o}f`;
      const f = parseShell(src);
      const first = f.Stmts[0]?.Redirs[0];
      if (first) redirOps.set(first.Op, o);
    }
  }
  return redirOps.get(op) ?? '?';
}
