// mvdan-sh ships no type declarations; shell-ast.ts types the parts it uses.
declare module 'mvdan-sh' {
  const sh: unknown;
  export default sh;
}
