import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logging.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes JSON with a string level and redacts secret-looking fields at any depth', async () => {
    const { lines, destination } = capture();
    const log = createLogger({ name: 'test', destination, level: 'info' });
    log.info({ token: 't0p', nested: { password: 'hunter2', deeper: { clientSecret: 'cs', keep: 'visible' } }, key: 'ns/name' }, 'hello');
    log.flush();
    await new Promise((r) => setImmediate(r));
    const line = lines.join('');
    expect(line).not.toMatch(/t0p|hunter2|"cs"/);
    const rec = JSON.parse(line) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 'info', name: 'test', msg: 'hello', token: '[REDACTED]', key: 'ns/name' });
    expect(rec['nested']).toEqual({ password: '[REDACTED]', deeper: { clientSecret: '[REDACTED]', keep: 'visible' } });
  });
});
