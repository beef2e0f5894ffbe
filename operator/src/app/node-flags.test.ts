import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPERATOR_NODE_FLAGS } from './node-flags.ts';

describe('operator V8 flags', () => {
  it('are the ones the container image runs with', () => {
    const dockerfile = readFileSync(join(import.meta.dirname, '..', '..', '..', 'Dockerfile'), 'utf8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(entrypoint).toBeDefined();
    const argv = JSON.parse(entrypoint ?? '[]') as string[];
    expect(argv.slice(1, 1 + OPERATOR_NODE_FLAGS.length)).toEqual([...OPERATOR_NODE_FLAGS]);
    expect(argv.slice(-2)).toEqual(['dist/cli/main.js', 'operator']);
  });
});
