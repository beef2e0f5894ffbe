// Imports point one way. Each top-level folder of operator/src may import only the folders listed for it;
// an upward import (the API importing a verifier, the runtime importing the API, a controller importing
// the simulators, attestation importing release) fails here with the file and the import.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '..', '..', 'src');

/** Who may import whom (besides itself). Lower layers first. */
export const LAYERS: Record<string, readonly string[]> = {
  net: [],
  protocol: [],
  api: [],
  runtime: ['net'],
  attestation: ['api', 'protocol', 'net'],
  release: ['api', 'protocol', 'attestation', 'net', 'pep'],
  // The tool-sandbox policy: its schema, analysis and the claim it adds to verified evidence.
  pep: ['api', 'attestation', 'protocol', 'net'],
  cloud: ['api', 'net'],
  // Domain metrics read object state (api) through the runtime's informers.
  metrics: ['api', 'runtime', 'net'],
  controllers: ['api', 'runtime', 'cloud', 'attestation', 'release', 'protocol', 'net', 'pep'],
  envtest: [],
  sim: ['api', 'protocol', 'attestation', 'release', 'cloud', 'net', 'pep'],
  // The guest-image builder packs the simulated guest into a bootable image.
  image: ['api', 'protocol', 'attestation', 'release', 'cloud', 'net', 'sim', 'pep'],
  app: ['api', 'runtime', 'cloud', 'attestation', 'release', 'protocol', 'net', 'controllers', 'sim', 'metrics', 'pep'],
  cli: ['api', 'runtime', 'cloud', 'attestation', 'release', 'protocol', 'net', 'controllers', 'sim', 'app', 'envtest', 'image', 'pep', 'metrics'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

export function upwardImports(srcRoot: string, layers: Record<string, readonly string[]>): string[] {
  const problems: string[] = [];
  for (const file of sources(srcRoot)) {
    const layer = relative(srcRoot, file).split('/')[0] ?? '';
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? '';
      if (!spec.startsWith('.')) continue;
      const target = relative(srcRoot, resolve(dirname(file), spec)).split('/')[0] ?? '';
      if (target === layer || target.endsWith('.ts')) continue;
      const allowed = layers[layer];
      if (!allowed) problems.push(`${relative(srcRoot, file)}: folder ${layer}/ has no layer rule`);
      else if (!allowed.includes(target)) problems.push(`${relative(srcRoot, file)} imports ${spec} (${layer}/ may not import ${target}/)`);
    }
  }
  return problems;
}

describe('import direction', () => {
  it('every import in operator/src follows the layer rules', () => {
    expect(upwardImports(SRC, LAYERS)).toEqual([]);
  });

  it('catches an upward import (the rule can fail)', () => {
    const strict = { ...LAYERS, controllers: LAYERS['controllers']!.filter((l) => l !== 'runtime') };
    expect(upwardImports(SRC, strict).some((p) => p.startsWith('controllers/') && p.includes('may not import runtime/'))).toBe(true);
  });
});
