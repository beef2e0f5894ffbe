// `npm run crds`: writes crds/<group>_<plural>.yaml from the zod schemas and refreshes the generated
// field reference in docs/api.md. `--check` writes nothing and exits 1 listing what differs (for CI;
// the drift unit test does the same comparison).
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GROUP } from './common.ts';
import { buildCrds, renderCrdFiles } from './crd.ts';
import { renderFieldReference, spliceReference } from './reference.ts';

const REPO = join(import.meta.dirname, '..', '..', '..');
export const CRD_DIR = join(REPO, 'crds');
export const API_DOC = join(REPO, 'docs', 'api.md');

/** docs/api.md with its generated field reference brought up to date. */
export function expectedApiDoc(current: string): string {
  return spliceReference(current, renderFieldReference(buildCrds()));
}

/** Whether the field reference in the API document is out of date (or the document is missing). */
export function apiDocDrift(path: string = API_DOC): boolean {
  if (!existsSync(path)) return true;
  const current = readFileSync(path, 'utf8');
  return expectedApiDoc(current) !== current;
}

/** Files in `dir` that differ from the generated output (missing, changed, or stale generated files). */
export function crdDrift(dir: string = CRD_DIR): string[] {
  const expected = renderCrdFiles();
  const drift: string[] = [];
  for (const [name, text] of expected) {
    const path = join(dir, name);
    if (!existsSync(path)) drift.push(`${name} (missing)`);
    else if (readFileSync(path, 'utf8') !== text) drift.push(`${name} (differs)`);
  }
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (name.startsWith(`${GROUP}_`) && name.endsWith('.yaml') && !expected.has(name)) drift.push(`${name} (not generated any more)`);
  }
  return drift;
}

function main(args: string[]): number {
  if (args.includes('--check')) {
    const drift = crdDrift();
    if (apiDocDrift()) drift.push('docs/api.md (field reference differs)');
    if (drift.length === 0) return 0;
    console.error(`crds/ is out of date; run \`npm run crds\`:\n  ${drift.join('\n  ')}`);
    return 1;
  }
  const files = renderCrdFiles();
  for (const [name, text] of files) writeFileSync(join(CRD_DIR, name), text);
  for (const name of readdirSync(CRD_DIR)) {
    if (name.startsWith(`${GROUP}_`) && name.endsWith('.yaml') && !files.has(name)) unlinkSync(join(CRD_DIR, name));
  }
  const doc = existsSync(API_DOC) ? readFileSync(API_DOC, 'utf8') : '# API reference\n';
  writeFileSync(API_DOC, expectedApiDoc(doc));
  console.log(`wrote ${[...files.keys()].map((n) => `crds/${n}`).join(', ')} and the field reference in docs/api.md`);
  return 0;
}

if (import.meta.filename === process.argv[1]) process.exitCode = main(process.argv.slice(2));
