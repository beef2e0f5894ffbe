import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { describeError, httpStatusOf, isConflict, isNotFound, retryAfterOf, RuntimeError, toRuntimeError } from './errors.ts';

const apiErr = (code: number, body: unknown) => new ApiException(code, `HTTP-Code: ${code}\nMessage: x\nBody: ${JSON.stringify(body)}\nHeaders: {"authorization":"nope"}`, body, {});

describe('errors', () => {
  it('classifies ApiExceptions and watch errors by HTTP status', () => {
    expect(httpStatusOf(apiErr(409, {}))).toBe(409);
    expect(isConflict(apiErr(409, {}))).toBe(true);
    expect(isNotFound(apiErr(404, {}))).toBe(true);
    expect(httpStatusOf(Object.assign(new Error('Gone'), { statusCode: 410 }))).toBe(410);
    expect(httpStatusOf('nope')).toBeUndefined();
    expect(isConflict(new RuntimeError('CONFLICT', 'x'))).toBe(true);
  });

  it('describeError keeps the API server message and drops bodies and headers', () => {
    const d = describeError(apiErr(422, JSON.stringify({ message: 'spec.x: Invalid value' })));
    expect(d).toEqual({ message: 'spec.x: Invalid value', status: 422 });
    expect(JSON.stringify(describeError(apiErr(500, 'not json')))).not.toMatch(/authorization/);
    expect(describeError(new Error('line one\nline two')).message).toBe('line one');
    expect(describeError(new RuntimeError('TIMEOUT', 't'))).toMatchObject({ code: 'TIMEOUT' });
  });

  it('toRuntimeError maps statuses to codes; retryAfterOf reads only sane numbers', () => {
    expect(toRuntimeError(apiErr(409, {}), 'patch').code).toBe('CONFLICT');
    expect(toRuntimeError(apiErr(404, {}), 'patch').code).toBe('NOT_FOUND');
    expect(toRuntimeError(apiErr(410, {}), 'list').code).toBe('GONE');
    expect(toRuntimeError(apiErr(503, {}), 'patch')).toMatchObject({ code: 'API_ERROR', status: 503 });
    expect(retryAfterOf(new RuntimeError('API_ERROR', 'x', { retryAfterMs: 250 }))).toBe(250);
    expect(retryAfterOf({ retryAfterMs: -1 })).toBeUndefined();
    expect(retryAfterOf({ retryAfterMs: Number.NaN })).toBeUndefined();
    expect(retryAfterOf(null)).toBeUndefined();
  });
});
