// `npm run crds`: writes crds/<group>_<plural>.yaml from the zod schemas. `--check` writes nothing and
// exits 1 listing the files that differ (for CI; the drift unit test does the same comparison).
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GROUP } from './common.ts';
import { renderCrdFiles } from './crd.ts';

export const CRD_DIR = join(import.meta.dirname, '..', '..', '..', 'crds');

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
    if (drift.length === 0) return 0;
    console.error(`crds/ is out of date; run \`npm run crds\`:\n  ${drift.join('\n  ')}`);
    return 1;
  }
  const files = renderCrdFiles();
  for (const [name, text] of files) writeFileSync(join(CRD_DIR, name), text);
  for (const name of readdirSync(CRD_DIR)) {
    if (name.startsWith(`${GROUP}_`) && name.endsWith('.yaml') && !files.has(name)) unlinkSync(join(CRD_DIR, name));
  }
  console.log(`wrote ${[...files.keys()].map((n) => `crds/${n}`).join(', ')}`);
  return 0;
}

if (import.meta.filename === process.argv[1]) process.exitCode = main(process.argv.slice(2));
