import { describe, expect, it } from 'vitest';
import { TdxError, asTdxError } from './errors.ts';

describe('TdxError', () => {
  it('is named TdxError in logs and stack traces', () => {
    const err = new TdxError('QuoteMalformed', 'quote is short');
    expect(String(err)).toBe('TdxError: quote is short');
  });
  it('asTdxError keeps a TdxError and wraps anything else with the context', () => {
    const own = new TdxError('EventLogMalformed', 'x');
    expect(asTdxError(own, 'QuoteMalformed', 'ctx')).toBe(own);
    const wrapped = asTdxError(new RangeError('offset out of range'), 'QuoteMalformed', 'quote could not be parsed');
    expect([wrapped.code, wrapped.message]).toEqual(['QuoteMalformed', 'quote could not be parsed: offset out of range']);
    expect(asTdxError('boom', 'CrlMalformed', 'crl').message).toBe('crl: boom');
  });
});
